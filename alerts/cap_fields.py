"""An alert's structured fields as CAP `<parameter>`s named `HAVEN-...`, written and read back.

CAP has no child, suspect or vehicle, so Haven writes them as parameters a distributor can
read one by one (`HAVEN-child-1-name`, `HAVEN-vehicle-plate`, ...) beside the `<description>`
written for people; reading them back gives the alert's draft unchanged. docs/cap.md lists
the scheme. Pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import shapely

from alerts.cap import CapError, format_cap_time
from alerts.content import AlertContent, StoredArea
from geo.areas import parse_cap_polygon
from geo.errors import AreaError

if TYPE_CHECKING:
    from alerts.cap_read import ParsedArea

PREFIX = "HAVEN-"
TEXT = "HAVEN-text"
LAST_SEEN_AT = "HAVEN-last-seen-at"
LAST_SEEN_PLACE = "HAVEN-last-seen-place"
LAST_SEEN_DIRECTION = "HAVEN-last-seen-direction"
GENERATED = "generated"
"""The value of `HAVEN-area-N-areaDesc` when Haven made up the `<areaDesc>` ("Area N")."""

# Parameter names, by part of the alert, and the field of `AlertIn` each one fills.
CHILD_FIELDS = {
    "name": "name",
    "age": "age",
    "description": "description",
    "photo-url": "photo_url",
}
SUSPECT_FIELDS = {"name": "name", "description": "description"}
VEHICLE_FIELDS = {
    "make": "make",
    "model": "model",
    "color": "color",
    "plate": "plate",
    "plate-state": "plate_state",
}
AREA_KINDS = ("polygon", "circle", "geojson", "same")

# The input limits of `AlertIn` (alerts/schemas.py): values read are cut to them, as other
# texts from CAP are, so that a draft from any sender validates.
_LIMITS = {
    "name": 200,
    "description": 1000,
    "make": 60,
    "model": 60,
    "color": 40,
    "place": 300,
    "direction": 120,
    "area": 300,
}
_NUMBERED_RE = re.compile(r"HAVEN-(child|suspect)-([1-9][0-9]{0,3})-([a-z-]+)")


def alert_parameters(content: AlertContent) -> list[tuple[str, str]]:
    """The alert's children, suspects, vehicle, last sighting and area forms as parameters.

    Values are as the officer wrote them, in no particular language, so every `<info>`
    repeats them. A suspect, vehicle or sighting with no field set says nothing and is left
    out; times are CAP times (whole seconds).
    """
    parameters: list[tuple[str, str]] = []
    for number, child in enumerate(content.children, 1):
        values = child.model_dump()
        for name, field in CHILD_FIELDS.items():
            if values[field] is not None:
                parameters.append((f"HAVEN-child-{number}-{name}", str(values[field])))
    suspects = [s for s in content.suspects if s.name is not None or s.description is not None]
    for number, suspect in enumerate(suspects, 1):
        values = suspect.model_dump()
        for name, field in SUSPECT_FIELDS.items():
            if values[field] is not None:
                parameters.append((f"HAVEN-suspect-{number}-{name}", values[field]))
    if content.vehicle is not None:
        values = content.vehicle.model_dump()
        for name, field in VEHICLE_FIELDS.items():
            if values[field] is not None:
                parameters.append((f"HAVEN-vehicle-{name}", values[field]))
    if content.last_seen is not None:
        if content.last_seen.at is not None:
            parameters.append((LAST_SEEN_AT, format_cap_time(content.last_seen.at)))
        if content.last_seen.place is not None:
            parameters.append((LAST_SEEN_PLACE, content.last_seen.place))
        if content.last_seen.direction is not None:
            parameters.append((LAST_SEEN_DIRECTION, content.last_seen.direction))
    parameters += area_parameters(content.areas)
    return parameters


def area_parameters(areas: Sequence[StoredArea]) -> list[tuple[str, str]]:
    """How the officer gave each `<area>`: its form, and whether its `<areaDesc>` is made up."""
    parameters = []
    for number, area in enumerate(areas, 1):
        parameters.append((f"HAVEN-area-{number}-kind", area.kind))
        if not area.description:
            parameters.append((f"HAVEN-area-{number}-areaDesc", GENERATED))
    return parameters


def text_parameters(content: AlertContent, language: str) -> list[tuple[str, str]]:
    """The officer's own text in `language`, if the alert has one (the `<instruction>` then
    repeats it; without one, the instruction is Haven's default)."""
    text = content.texts.get(language)
    return [] if text is None else [(TEXT, text)]


def has_haven_fields(parameters: Mapping[str, list[str]]) -> bool:
    """Whether an `<info>`'s parameters follow Haven's scheme (any name starting `HAVEN-`)."""
    return any(name.startswith(PREFIX) for name in parameters)


def fields_from_parameters(
    parameters: Mapping[str, list[str]], skipped: list[str]
) -> dict[str, Any]:
    """The `AlertIn` fields that Haven's parameters hold: `children`, `suspects`, `vehicle`,
    `last_seen`, each only if present. Unusable values are listed in `skipped`."""
    values = {name: found[0].strip() for name, found in parameters.items() if found}
    numbered: dict[str, dict[int, dict[str, str]]] = {"child": {}, "suspect": {}}
    for name, value in values.items():
        match = _NUMBERED_RE.fullmatch(name)
        if match is None:
            continue
        part, number, field = match[1], int(match[2]), match[3]
        known = CHILD_FIELDS if part == "child" else SUSPECT_FIELDS
        if field in known:
            numbered[part].setdefault(number, {})[known[field]] = value
    fields: dict[str, Any] = {}
    children = []
    for number, child in sorted(numbered["child"].items()):
        if "name" not in child:
            skipped.append(f"parameter HAVEN-child-{number}-...: the child has no name")
            continue
        children.append(_child(number, child, skipped))
    if children:
        fields["children"] = children
    suspects = [_clipped(suspect) for _, suspect in sorted(numbered["suspect"].items())]
    if suspects:
        fields["suspects"] = suspects
    vehicle = {
        field: given
        for name, field in VEHICLE_FIELDS.items()
        if (given := values.get(f"HAVEN-vehicle-{name}")) is not None
    }
    if vehicle:
        fields["vehicle"] = _clipped(vehicle)
    last_seen = _last_seen(values, skipped)
    if last_seen:
        fields["last_seen"] = last_seen
    return fields


def areas_from_parameters(
    parameters: Mapping[str, list[str]], areas: Sequence[ParsedArea]
) -> list[dict[str, Any]] | None:
    """The officer's areas, from one `<info>`'s `<area>`s and their `HAVEN-area-N-kind`; None
    if some area has no known kind. The SAME codes Haven adds to a drawn area are left out:
    they were not part of the area as given."""
    values = {name: found[0].strip() for name, found in parameters.items() if found}
    result: list[dict[str, Any]] = []
    for number, area in enumerate(areas, 1):
        kind = values.get(f"HAVEN-area-{number}-kind")
        if kind not in AREA_KINDS:
            return None
        generated = values.get(f"HAVEN-area-{number}-areaDesc") == GENERATED
        description = _clip(area.description, _LIMITS["area"])
        named = {} if generated or not description else {"description": description}
        if kind == "geojson":
            geojson = _geojson(area.polygons)
            if geojson is not None:
                result.append({"geojson": geojson} | named)
                continue
            kind = "polygon"  # not Haven's own output: validation says what is wrong
        sources = {
            "polygon": area.polygons,
            "circle": area.circles,
            "same": [value for name, value in area.geocodes if name.upper() == "SAME"],
        }[kind]
        result += [{kind: source} | named for source in sources]
    return result


def _child(number: int, child: dict[str, str], skipped: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = _clipped({k: v for k, v in child.items() if k != "age"})
    if "age" in child:
        try:
            result["age"] = int(child["age"])
        except ValueError:
            skipped.append(f"parameter HAVEN-child-{number}-age {child['age']!r}: not a number")
    return result


def _last_seen(values: Mapping[str, str], skipped: list[str]) -> dict[str, str]:
    last_seen = {}
    at = values.get(LAST_SEEN_AT)
    if at is not None:
        try:
            moment = _cap_time(at)
        except CapError as exc:
            skipped.append(f"parameter {LAST_SEEN_AT}: {exc}")
        else:
            last_seen["at"] = moment
    place = values.get(LAST_SEEN_PLACE)
    if place is not None:
        last_seen["place"] = _clip(place, _LIMITS["place"])
    direction = values.get(LAST_SEEN_DIRECTION)
    if direction:  # blank says nothing, and `LastSeenIn` would refuse it
        last_seen["direction"] = _clip(direction, _LIMITS["direction"])
    return last_seen


def _cap_time(text: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CapError(f"{text!r} is not a date and time") from None
    if moment.tzinfo is None:
        raise CapError(f"{text!r} has no time zone offset")
    return moment.isoformat()


def _geojson(polygons: list[str]) -> dict[str, Any] | None:
    """A GeoJSON Polygon (one CAP polygon) or MultiPolygon with the very same coordinates,
    or None if there is none or one does not parse."""
    parts = []
    for text in polygons:
        try:
            ring = shapely.get_coordinates(parse_cap_polygon(text).exterior)
        except AreaError:
            return None
        parts.append([[[float(lon), float(lat)] for lon, lat in ring]])
    if not parts:
        return None
    if len(parts) == 1:
        return {"type": "Polygon", "coordinates": parts[0]}
    return {"type": "MultiPolygon", "coordinates": parts}


def _clipped(values: Mapping[str, str]) -> dict[str, Any]:
    return {k: _clip(v, _LIMITS[k]) if k in _LIMITS else v for k, v in values.items()}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
