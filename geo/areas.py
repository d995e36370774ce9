"""Alert areas: parse the four forms an officer may send into a validated lon/lat (Multi)Polygon.

The forms are a CAP 1.2 polygon ("lat,lon lat,lon ..."), a CAP circle ("lat,lon radius_km"),
a GeoJSON Polygon or MultiPolygon (or a Feature holding one), and a SAME/FIPS geocode.
Invalid input raises AreaError; an invalid polygon is refused, never repaired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely

from geo.circles import MAX_CIRCLE_RADIUS_KM, circle_vertex_count, parse_cap_circle
from geo.coords import check_lat_lon, check_number, format_degrees, parse_decimal
from geo.errors import AreaError
from geo.same import same_geometry, same_vertex_count
from geo.surroundings import states_within

AreaKind = Literal["polygon", "circle", "geojson", "same"]
AREA_KINDS: tuple[AreaKind, ...] = ("polygon", "circle", "geojson", "same")

_REASON_AT_RE = re.compile(r"^(?P<what>[^\[]*)\[(?P<x>\S+) (?P<y>\S+)\]$")


@dataclass(frozen=True)
class Area:
    """An alert area as the officer sent it, with its parsed geometry (x=lon, y=lat)."""

    kind: AreaKind
    source: str | Mapping[str, Any]
    geometry: Any
    description: str | None = None


def parse_area(kind: str, source: object, description: str | None = None) -> Area:
    """Parse one area of the given kind; raise AreaError if it is unusable."""
    if kind == "polygon":
        text = _require_text(source, "CAP polygon")
        return Area("polygon", text, parse_cap_polygon(text), description)
    if kind == "circle":
        text = _require_text(source, "CAP circle")
        return Area("circle", text, parse_cap_circle(text), description)
    if kind == "geojson":
        if not isinstance(source, Mapping):
            raise AreaError("a GeoJSON area must be a JSON object")
        return Area("geojson", source, parse_geojson(source), description)
    if kind == "same":
        text = _require_text(source, "SAME code")
        return Area("same", text, same_geometry(text), description)
    raise AreaError(f"unknown area kind {kind!r}; use one of {', '.join(AREA_KINDS)}")


def source_vertex_count(kind: str, source: object) -> int:
    """How many vertices (closing ones included) an area will have, counted without parsing it.

    Cheap next to parsing, so a caller can refuse an oversized request before paying for it.
    Malformed input counts what it holds (or 0); `parse_area` says what is wrong with it.
    """
    if kind == "polygon" and isinstance(source, str):
        return len(source.split())
    if kind == "geojson" and isinstance(source, Mapping):
        if source.get("type") == "Feature":
            geometry = source.get("geometry")
            return source_vertex_count("geojson", geometry) if isinstance(geometry, Mapping) else 0
        depth = {"Polygon": 2, "MultiPolygon": 3}.get(str(source.get("type")), 0)
        return _count_positions(source.get("coordinates"), depth)
    if kind == "circle" and isinstance(source, str):
        try:
            radius_km = float(source.split()[-1])
        except (IndexError, ValueError):
            return 0
        if not 0.0 < radius_km <= MAX_CIRCLE_RADIUS_KM:
            return 0
        return circle_vertex_count(radius_km) + 1  # the ring repeats its first vertex
    if kind == "same" and isinstance(source, str):
        try:
            return same_vertex_count(source)
        except AreaError:
            return 0
    return 0


def _count_positions(value: object, depth: int) -> int:
    """Positions in nested lists `depth` levels above them (2: a Polygon's rings)."""
    if depth == 0 or not isinstance(value, Sequence) or isinstance(value, str):
        return 0
    if depth == 1:
        return len(value)
    return sum(_count_positions(item, depth - 1) for item in value)


def parse_cap_polygon(text: str) -> Any:
    """Parse a CAP polygon: whitespace-separated "lat,lon" pairs, closed, at least 4 pairs."""
    tokens = text.split()
    if not tokens:
        raise AreaError("the polygon is empty: no points were given")
    points: list[tuple[float, float]] = []
    for number, token in enumerate(tokens, start=1):
        parts = token.split(",")
        if len(parts) != 2:
            raise AreaError(f"polygon point {number} ({token!r}) is not a 'lat,lon' pair")
        where = f"polygon point {number}"
        lat = parse_decimal(parts[0], where, AreaError)
        lon = parse_decimal(parts[1], where, AreaError)
        check_lat_lon(lat, lon, where, AreaError)
        points.append((lon, lat))
    _check_ring(points, "the polygon")
    return _checked(shapely.Polygon(points))


def parse_geojson(obj: Mapping[str, Any]) -> Any:
    """Parse a GeoJSON Polygon or MultiPolygon geometry ([lon, lat] positions), or a Feature.

    Positions written [lat, lon] are refused with a hint (`check_not_swapped`).
    """
    geometry = _parse_geojson(obj)
    check_not_swapped(geometry)
    return geometry


SWAPPED_HINT = (
    "the coordinates look swapped: GeoJSON positions are [longitude, latitude], "
    "longitude first; swap the two numbers of every position"
)


def check_not_swapped(geometry: Any) -> None:
    """Raise AreaError with SWAPPED_HINT if an area lies in no US state or territory as given
    but does when each position's two numbers are swapped back: [lat, lon] written for
    [lon, lat]. An area in the US as given (the usual case: one bounding-box look-up and an
    intersection with its state's outline) or nowhere either way is accepted."""
    if lies_in_us(geometry):
        return
    swapped = shapely.transform(geometry, lambda xy: xy[:, ::-1])
    coords = shapely.get_coordinates(swapped)
    if (np.abs(coords[:, 1]) > 90.0).any():
        return
    if lies_in_us(swapped):
        raise AreaError(SWAPPED_HINT)


def lies_in_us(geometry: Any) -> bool:
    """Whether an area meets the bundled outline of a US state or territory."""
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    return any(
        shapely.intersects(geometry, state.geometry)
        for state in states_within((xmin, ymin, xmax, ymax))
    )


def _parse_geojson(obj: Mapping[str, Any]) -> Any:
    kind = obj.get("type")
    if kind == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, Mapping) or geometry.get("type") == "Feature":
            raise AreaError("the GeoJSON Feature has no Polygon or MultiPolygon geometry")
        return _parse_geojson(geometry)
    coordinates = obj.get("coordinates")
    if kind == "Polygon":
        return _checked(_geojson_polygon(coordinates, "the polygon"))
    if kind == "MultiPolygon":
        if not isinstance(coordinates, Sequence) or isinstance(coordinates, str) or not coordinates:
            raise AreaError("the MultiPolygon has no polygons")
        polygons = [
            _geojson_polygon(polygon, f"polygon {number}")
            for number, polygon in enumerate(coordinates, start=1)
        ]
        return _checked(shapely.MultiPolygon(polygons))
    raise AreaError(
        f"GeoJSON type {kind!r} is not an area; send a Polygon, a MultiPolygon or a Feature"
    )


def to_cap_polygons(geometry: Any) -> list[str]:
    """Format an area as CAP <polygon>s ("lat,lon" pairs, closed), whose union is the area.

    A CAP polygon cannot hold holes, so a polygon with holes is cut into hole-free pieces
    (`without_holes`) rather than widened to its shell: the alert reaches exactly the area.
    """
    return [
        _cap_ring(shapely.get_exterior_ring(piece))
        for polygon in shapely.get_parts(geometry)
        for piece in without_holes(polygon)
    ]


def without_holes(polygon: Any) -> list[Any]:
    """A Polygon as hole-free Polygons that share only edges and whose union is the polygon.

    Each hole is cut by a north-south line through a point inside it, from beyond the
    polygon's southern edge to beyond its northern one; the lines and the polygon's rings are
    noded together and the faces inside the polygon kept. Every piece lies between two cuts,
    and every hole is crossed by one, so no piece can hold a hole whole. The noding adds
    vertices where a cut meets a ring and moves none of the polygon's own.
    """
    holes = [shapely.Polygon(ring) for ring in polygon.interiors]
    if not holes:
        return [polygon]
    cuts = sorted({float(shapely.get_x(shapely.point_on_surface(hole))) for hole in holes})
    _, ymin, _, ymax = (float(v) for v in shapely.bounds(polygon))
    lines = shapely.MultiLineString([[(x, ymin - 1.0), (x, ymax + 1.0)] for x in cuts])
    linework = shapely.union(shapely.boundary(polygon), lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    shapely.prepare(polygon)
    inside = [face for face in faces if polygon.contains(shapely.point_on_surface(face))]
    # Cannot happen by the argument above; should GEOS ever leave a hole, cut it again.
    return [part for face in inside for part in without_holes(face)]


def _cap_ring(ring: Any) -> str:
    coords = np.asarray(shapely.get_coordinates(ring), dtype=np.float64)
    return " ".join(f"{format_degrees(lat)},{format_degrees(lon)}" for lon, lat in coords)


def check_area(geometry: Any) -> Any:
    """Return a (Multi)Polygon unchanged if it is a valid, non-empty area; else raise AreaError."""
    if shapely.get_type_id(geometry) not in (3, 6):
        raise AreaError(f"a {geometry.geom_type} is not an area")
    coords = np.asarray(shapely.get_coordinates(geometry), dtype=np.float64)
    bad = coords[(np.abs(coords[:, 1]) > 90.0) | (np.abs(coords[:, 0]) > 180.0)]
    if len(bad):
        check_lat_lon(float(bad[0, 1]), float(bad[0, 0]), "the area", AreaError)
    return _checked(geometry)


def _checked(geometry: Any) -> Any:
    # The hull, not the area itself: a symmetric bow-tie's signed areas cancel to zero.
    if shapely.is_empty(geometry) or float(shapely.area(shapely.convex_hull(geometry))) == 0.0:
        raise AreaError("the area is empty: it encloses no ground")
    reason = str(shapely.is_valid_reason(geometry))
    if reason != "Valid Geometry":
        raise AreaError(f"the area is not a valid polygon: {_describe_reason(reason)}")
    xmin, _, xmax, _ = (float(v) for v in shapely.bounds(geometry))
    if xmax - xmin > 180.0:
        raise AreaError(
            "the area spans more than 180 degrees of longitude; areas that cross the "
            "antimeridian (180°) are not supported"
        )
    return geometry


def _describe_reason(reason: str) -> str:
    """Turn GEOS's "Self-intersection[x y]" into "self-intersection at lat y, lon x"."""
    match = _REASON_AT_RE.match(reason)
    if match is None:
        return reason.lower()
    return f"{match['what'].strip().lower()} at lat {match['y']}, lon {match['x']}"


def _check_ring(points: Sequence[tuple[float, float]], where: str) -> None:
    if len(points) < 4:
        raise AreaError(
            f"{where} has {len(points)} points; a polygon needs at least 4, "
            "the last repeating the first"
        )
    if points[0] != points[-1]:
        (lon0, lat0), (lon1, lat1) = points[0], points[-1]
        raise AreaError(
            f"{where} is not closed: it starts at {lat0},{lon0} but ends at {lat1},{lon1}"
        )


def _geojson_polygon(rings: object, where: str) -> Any:
    if not isinstance(rings, Sequence) or isinstance(rings, str) or not rings:
        raise AreaError(f"{where} has no rings")
    parsed = [
        _geojson_ring(ring, f"ring {number} of {where}")
        for number, ring in enumerate(rings, start=1)
    ]
    return shapely.Polygon(parsed[0], parsed[1:])


def _geojson_ring(ring: object, where: str) -> list[tuple[float, float]]:
    if not isinstance(ring, Sequence) or isinstance(ring, str):
        raise AreaError(f"{where} is not a list of positions")
    points: list[tuple[float, float]] = []
    for number, position in enumerate(ring, start=1):
        at = f"position {number} of {where}"
        if not isinstance(position, Sequence) or isinstance(position, str):
            raise AreaError(f"{at} is not a [lon, lat] array")
        if len(position) not in (2, 3):
            raise AreaError(f"{at} has {len(position)} numbers; expected [lon, lat]")
        lon = check_number(position[0], at, AreaError)
        lat = check_number(position[1], at, AreaError)
        if abs(lat) > 90.0 and abs(lat) <= 180.0 and abs(lon) <= 90.0:
            raise AreaError(f"{at}: latitude {lat} is outside -90..90; {SWAPPED_HINT}")
        check_lat_lon(lat, lon, at, AreaError)
        points.append((lon, lat))
    _check_ring(points, where)
    return points


def _require_text(source: object, what: str) -> str:
    if not isinstance(source, str):
        raise AreaError(f"a {what} must be text, not {type(source).__name__}")
    return source
