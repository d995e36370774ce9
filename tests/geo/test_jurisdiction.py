"""Jurisdiction checks: what part of an alert area lies outside, with a tolerance in km."""

from __future__ import annotations

import math

import pytest
import shapely
from pyproj import Geod

from geo.circles import geodesic_circle
from geo.jurisdiction import allowed_area, outside_jurisdiction, transformer_cache_info
from geo.same import same_geometry

GEOD = Geod(ellps="WGS84")


def test_a_county_lies_within_its_state() -> None:
    overhang = outside_jurisdiction(same_geometry("017031"), same_geometry("017000"), 1.0)
    assert overhang.is_empty
    assert overhang.area_km2 == 0.0
    assert overhang.near_lat is None


def test_a_county_of_another_state_lies_wholly_outside() -> None:
    harris = same_geometry("048201")
    overhang = outside_jurisdiction(harris, same_geometry("017000"), 5.0)
    expected_km2 = abs(GEOD.geometry_area_perimeter(harris)[0]) / 1e6
    assert overhang.area_km2 == pytest.approx(expected_km2, rel=1e-6)
    assert harris.covers(overhang.geometry.representative_point())
    assert overhang.near_lat is not None
    assert 29.0 < overhang.near_lat < 30.5


@pytest.mark.parametrize("lat", [5.0, 40.0, 65.0])
def test_the_tolerance_is_kilometres_on_the_ground_at_any_latitude(lat: float) -> None:
    jurisdiction = geodesic_circle(lat, -100.0, 50.0)
    area = geodesic_circle(lat, -100.0, 52.0)  # a ring about 2 km wide lies outside
    assert outside_jurisdiction(area, jurisdiction, 2.5).is_empty
    overhang = outside_jurisdiction(area, jurisdiction, 1.0)
    assert not overhang.is_empty
    assert overhang.near_lat is not None
    assert overhang.near_lon is not None
    _, _, from_centre = GEOD.inv(-100.0, lat, overhang.near_lon, overhang.near_lat)
    assert 51_000.0 <= from_centre <= 52_000.0
    ring_km2 = math.pi * (52.0**2 - 51.0**2)
    assert overhang.area_km2 == pytest.approx(ring_km2, rel=0.05)


def test_a_negative_tolerance_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        outside_jurisdiction(same_geometry("017031"), same_geometry("017000"), -1.0)


def test_an_allowed_area_built_once_gives_each_area_the_same_overhang_as_alone() -> None:
    illinois = same_geometry("017000")
    allowed = allowed_area(illinois, 2.0)
    for code in ("017031", "018089", "048201", "017043"):
        alone = outside_jurisdiction(same_geometry(code), illinois, 2.0)
        shared = allowed.outside(same_geometry(code))
        assert shapely.equals_exact(shared.geometry, alone.geometry, tolerance=0.0)
        assert (shared.area_km2, shared.near_lat, shared.near_lon) == (
            alone.area_km2,
            alone.near_lat,
            alone.near_lon,
        )


def test_the_projections_of_a_jurisdiction_are_built_once_and_reused() -> None:
    jurisdiction = geodesic_circle(12.345, -67.89, 30.0)  # a centre no other test uses
    before = transformer_cache_info()
    allowed_area(jurisdiction, 1.0)
    allowed_area(jurisdiction, 2.0)
    outside_jurisdiction(geodesic_circle(12.345, -67.89, 10.0), jurisdiction, 1.0)
    after = transformer_cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits >= 2
