"""CAP circles: geodesic on the WGS84 ellipsoid, bounded, and formatted back to CAP text."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.circles import (
    CHORD_TOLERANCE_M,
    MAX_CIRCLE_RADIUS_KM,
    circle_vertex_count,
    enclosing_cap_circle,
    format_cap_circle,
    geodesic_circle,
    parse_cap_circle,
)
from geo.errors import AreaError
from geo.same import same_geometry

GEOD = Geod(ellps="WGS84")


def _distances_m(lat: float, lon: float, coords: np.ndarray) -> np.ndarray:
    count = len(coords)
    _, _, distance = GEOD.inv(np.full(count, lon), np.full(count, lat), coords[:, 0], coords[:, 1])
    return np.asarray(distance)


@pytest.mark.parametrize(
    ("lat", "lon", "radius_km"), [(41.88, -87.63, 10.0), (64.8, -147.7, 300.0)]
)
def test_circle_vertices_lie_at_the_stated_geodesic_distance(
    lat: float, lon: float, radius_km: float
) -> None:
    circle = parse_cap_circle(f"{lat},{lon} {radius_km}")
    distances = _distances_m(lat, lon, shapely.get_coordinates(circle))
    np.testing.assert_allclose(distances, radius_km * 1000.0, atol=0.01)


@pytest.mark.parametrize("lat", [0.0, 35.0, 65.0])
@pytest.mark.parametrize("radius_km", [0.5, 25.0, 400.0, MAX_CIRCLE_RADIUS_KM])
def test_circle_edges_stay_within_the_chord_tolerance_of_the_true_circle(
    lat: float, radius_km: float
) -> None:
    circle = geodesic_circle(lat, -100.0, radius_km)
    coords = shapely.get_coordinates(circle)
    midpoints = (coords[:-1] + coords[1:]) / 2.0
    distances = _distances_m(lat, -100.0, midpoints)
    assert distances.max() <= radius_km * 1000.0 + 0.01
    assert distances.min() >= radius_km * 1000.0 - CHORD_TOLERANCE_M


def test_circle_at_high_latitude_is_round_on_the_ground_not_in_degrees() -> None:
    circle = geodesic_circle(70.0, 25.0, 100.0)
    xmin, ymin, xmax, ymax = circle.bounds
    # A degree buffer would be as wide as it is tall; on the ground at 70°N a degree of
    # longitude is about cos(70°) of a degree of latitude.
    assert (xmax - xmin) / (ymax - ymin) == pytest.approx(1 / np.cos(np.radians(70.0)), rel=0.01)
    for azimuth in (0.0, 90.0, 180.0, 270.0):
        inside_lon, inside_lat, _ = GEOD.fwd(25.0, 70.0, azimuth, 99_000.0)
        outside_lon, outside_lat, _ = GEOD.fwd(25.0, 70.0, azimuth, 101_000.0)
        assert shapely.intersects_xy(circle, inside_lon, inside_lat)
        assert not shapely.intersects_xy(circle, outside_lon, outside_lat)


def test_circle_is_a_valid_anticlockwise_polygon() -> None:
    circle = geodesic_circle(41.88, -87.63, 10.0)
    assert shapely.is_valid(circle)
    assert circle.exterior.is_ccw
    assert len(circle.exterior.coords) - 1 == circle_vertex_count(10.0) == 128


def test_large_circles_get_more_vertices() -> None:
    assert circle_vertex_count(MAX_CIRCLE_RADIUS_KM) > 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("41.88,-87.63 0", "radius is 0 km"),
        ("41.88,-87.63 0.0", "radius is 0 km"),
        ("41.88,-87.63 -5", "must be a positive number"),
        ("41.88,-87.63 1000.5", "exceeds the limit of 1000 km"),
        ("41.88,-87.63 ten", "not a decimal number"),
        ("41.88;-87.63 10", "not a 'lat,lon' pair"),
        ("95,-87.63 10", "latitude 95.0 is outside"),
        ("41.88,-87.63 10 extra", "not of the form"),
        ("89.5,0 100", "contains a pole"),
        ("52.0,179.9 50", "crosses the antimeridian"),
    ],
)
def test_bad_circles_are_refused(text: str, message: str) -> None:
    with pytest.raises(AreaError, match=message):
        parse_cap_circle(text)


def test_cap_circle_text_round_trips() -> None:
    text = format_cap_circle(41.88, -87.63, 10.0)
    assert text == "41.88,-87.63 10.0"
    assert parse_cap_circle(text).equals(geodesic_circle(41.88, -87.63, 10.0))


def test_enclosing_cap_circle_reaches_every_vertex_of_the_area() -> None:
    cook = same_geometry("017031")
    text = enclosing_cap_circle(cook)
    centre, radius = text.split()
    lat, lon = (float(v) for v in centre.split(","))
    distances = _distances_m(lat, lon, shapely.get_coordinates(cook))
    assert distances.max() <= float(radius) * 1000.0
    assert float(radius) < 60.0  # Cook County is about 80 km tall: not absurdly large
