"""SAME/FIPS geocodes (PSSCCC) resolved to county and state polygons from the bundled NWS data."""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import shapely
from shapely.geometry import shape

from geo.errors import AreaError

DATA_FILE = "us-same-areas.geojson.gz"
_SAME_RE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class SameArea:
    """One entry of the bundled data: a county (or marine zone) or a whole state."""

    code: str
    kind: Literal["county", "state"]
    name: str
    state: str | None


def normalise_same(code: str) -> str:
    """Return the 6-digit code whose geometry the data holds: a non-zero P digit becomes 0.

    P (the first digit) names a part of a county; Haven resolves it to the whole county,
    so an alert reaches at least everyone it should (see docs/geo.md).
    """
    text = code.strip()
    if not _SAME_RE.fullmatch(text):
        raise AreaError(f"SAME code {code!r} is not 6 digits (PSSCCC)")
    return "0" + text[1:]


def lookup_same(code: str) -> SameArea:
    """Describe the county or state a SAME code names, or raise AreaError if it is unknown."""
    key = normalise_same(code)
    record = _records().get(key)
    if record is None:
        raise AreaError(f"SAME code {code} names no known county or state")
    area, _ = record
    return area


def same_areas() -> list[SameArea]:
    """Every county, marine zone and state in the bundled data, in code order."""
    return [area for area, _ in sorted(_records().values(), key=lambda record: record[0].code)]


def same_geometry(code: str) -> Any:
    """Return the (Multi)Polygon, in lon/lat, of the county or state a SAME code names.

    Each call returns a new geometry object: shapely prepares a geometry in place the first
    time a predicate such as intersects_xy meets it, and GEOS prepared geometries must not
    be shared between threads (docs/geo.md).
    """
    return shapely.from_wkb(_wkb(lookup_same(code).code))


def same_vertex_count(code: str) -> int:
    """How many vertices the geometry of a SAME code has; AreaError if the code is unknown."""
    return _vertex_count(lookup_same(code).code)


@functools.cache
def _vertex_count(key: str) -> int:
    return int(shapely.get_num_coordinates(shapely.from_wkb(_wkb(key))))


@functools.cache
def _wkb(key: str) -> bytes:
    _, geojson = _records()[key]
    geometry = shape(geojson)
    if not shapely.is_valid(geometry):
        # Four features of the published data self-intersect by a hair (e.g. Louisiana).
        # This is our bundled data, not an officer's drawing, so repairing it is correct;
        # "structure" keeps the area and yields polygons only.
        geometry = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    return bytes(shapely.to_wkb(geometry))


@functools.cache
def _records() -> dict[str, tuple[SameArea, dict[str, Any]]]:
    raw = resources.files("geo").joinpath("data", DATA_FILE).read_bytes()
    collection = json.loads(gzip.decompress(raw))
    records: dict[str, tuple[SameArea, dict[str, Any]]] = {}
    for feature in collection["features"]:
        props = feature["properties"]
        area = SameArea(
            code=props["same"], kind=props["kind"], name=props["name"], state=props["state"]
        )
        records[area.code] = (area, feature["geometry"])
    return records
