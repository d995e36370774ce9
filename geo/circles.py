"""CAP circles ("lat,lon radius_km") as geodesic polygons on the WGS84 ellipsoid, and back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from geo.coords import check_lat_lon, format_degrees, parse_decimal
from geo.errors import AreaError

MAX_CIRCLE_RADIUS_KM = 1000.0
"""Larger circles are refused: no AMBER alert needs one, and it catches "5000" typed for "50"."""

MIN_CIRCLE_VERTICES = 128
CHORD_TOLERANCE_M = 25.0
"""Edges are chords between vertices on the circle; the vertex count keeps them this close."""

_GEOD = Geod(ellps="WGS84")


def parse_cap_circle(text: str) -> Any:
    """Parse a CAP circle "lat,lon radius_km" into its geodesic polygon."""
    tokens = text.split()
    if len(tokens) != 2:
        raise AreaError(f"the circle {text.strip()!r} is not of the form 'lat,lon radius_km'")
    centre, radius = tokens
    parts = centre.split(",")
    if len(parts) != 2:
        raise AreaError(f"the circle's centre {centre!r} is not a 'lat,lon' pair")
    lat = parse_decimal(parts[0], "the circle's centre", AreaError)
    lon = parse_decimal(parts[1], "the circle's centre", AreaError)
    return geodesic_circle(lat, lon, parse_decimal(radius, "the circle's radius", AreaError))


def circle_vertex_count(radius_km: float) -> int:
    """Vertices needed so that no chord strays more than CHORD_TOLERANCE_M inside the circle."""
    # A chord spanning angle 2π/n sags r·(1 − cos(π/n)) ≈ r·π²/(2n²) inside the arc. Aim at
    # half the tolerance: an edge is straight in lon/lat, not a geodesic, which adds a little.
    needed = math.pi * math.sqrt(radius_km * 1000.0 / CHORD_TOLERANCE_M)
    return max(MIN_CIRCLE_VERTICES, math.ceil(needed))


def geodesic_circle(lat: float, lon: float, radius_km: float) -> Any:
    """Return the polygon whose vertices lie exactly radius_km (geodesic) from lat,lon."""
    check_lat_lon(lat, lon, "the circle's centre", AreaError)
    if not math.isfinite(radius_km) or radius_km < 0.0:
        raise AreaError(f"the circle's radius {radius_km} km must be a positive number")
    if radius_km == 0.0:
        raise AreaError("the circle's radius is 0 km, so the area is empty")
    if radius_km > MAX_CIRCLE_RADIUS_KM:
        raise AreaError(
            f"the circle's radius {radius_km} km exceeds the limit of {MAX_CIRCLE_RADIUS_KM:g} km"
        )
    radius_m = radius_km * 1000.0
    for pole in (90.0, -90.0):
        _, _, to_pole = _GEOD.inv(lon, lat, lon, pole)
        if to_pole <= radius_m:
            raise AreaError("the circle contains a pole, which is not supported")
    count = circle_vertex_count(radius_km)
    # Clockwise azimuths from north; reversed below so that the shell runs anticlockwise.
    azimuths = np.linspace(0.0, 360.0, count, endpoint=False)
    lons, lats, _ = _GEOD.fwd(
        np.full(count, lon), np.full(count, lat), azimuths, np.full(count, radius_m)
    )
    ring = np.column_stack([np.asarray(lons), np.asarray(lats)])[::-1]
    steps = np.abs(np.diff(ring[:, 0], append=ring[:1, 0]))
    if bool((steps > 180.0).any()):
        raise AreaError("the circle crosses the antimeridian (180°), which is not supported")
    return shapely.Polygon(ring)


def format_cap_circle(lat: float, lon: float, radius_km: float) -> str:
    """Format a CAP <circle>: "lat,lon radius_km"."""
    return f"{format_degrees(lat)},{format_degrees(lon)} {format_degrees(radius_km)}"


def enclosing_cap_circle(geometry: Any) -> str:
    """A CAP circle around an area's centroid that reaches its farthest vertex (rounded up).

    For receivers that read only circles. It covers every vertex; edges bulge past it only
    where a long straight lon/lat edge strays from the geodesic, which is negligible for
    county- and state-sized areas.
    """
    centre = shapely.centroid(geometry)
    lon, lat = float(shapely.get_x(centre)), float(shapely.get_y(centre))
    coords = np.asarray(shapely.get_coordinates(geometry), dtype=np.float64)
    count = len(coords)
    _, _, distances = _GEOD.inv(
        np.full(count, lon), np.full(count, lat), coords[:, 0], coords[:, 1]
    )
    # +1 m covers rounding the centre to 6 decimals (at most 0.11 m); then round up to 100 m.
    radius_km = math.ceil((float(np.max(distances)) + 1.0) / 100.0) / 10.0
    return format_cap_circle(round(lat, 6), round(lon, 6), radius_km)
