"""Jurisdiction checks: what part of an alert area lies outside, with a tolerance in km, and
what of it lies on other jurisdictions' land."""

from __future__ import annotations

import math

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo.circles import geodesic_circle
from geo.jurisdiction import (
    AllowedArea,
    allowed_area,
    format_km2,
    outside_jurisdiction,
    transformer_cache_info,
)
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


# Land of other jurisdictions: water and land outside every US county do not count.

DOWNTOWN_CHICAGO = (41.8781, -87.6298)
M_PER_DEGREE = 111_195.0  # of latitude; a degree of longitude is shorter
M2_PER_SQUARE_DEGREE = M_PER_DEGREE**2 * math.cos(math.radians(41.8))
COOK, ILLINOIS, LAKE_IN, DUPAGE, WAYNE_MI = "017031", "017000", "018089", "017043", "026163"


def agency(code: str, tolerance_km: float = 2.0) -> AllowedArea:
    return allowed_area(same_geometry(code), tolerance_km, codes=[code])


@pytest.mark.parametrize("code", [COOK, ILLINOIS])
@pytest.mark.parametrize("radius_km", [10.0, 8.0, 5.0, 4.0])
def test_a_circle_around_downtown_chicago_reaching_over_the_lake_is_accepted(
    code: str, radius_km: float
) -> None:
    circle = geodesic_circle(*DOWNTOWN_CHICAGO, radius_km)
    allowed = agency(code)
    assert not allowed.outside(circle).is_empty or radius_km <= 4.0  # it does leave the outline
    overhang = allowed.on_other_land(circle)
    assert overhang.is_empty
    assert overhang.counties == ()


def test_a_circle_reaching_onto_indiana_land_is_refused_naming_lake_county() -> None:
    circle = geodesic_circle(41.70, -87.56, 8.0)  # the South Side, across the state line
    for code in (COOK, ILLINOIS):
        overhang = agency(code).on_other_land(circle)
        assert overhang.counties == (LAKE_IN,)
        assert 5.0 < overhang.area_km2 < 9.0
        assert same_geometry(LAKE_IN).covers(shapely.point_on_surface(overhang.geometry))
        assert overhang.near_lon is not None
        assert overhang.near_lon > -87.53  # in Indiana


def test_a_large_circle_names_every_other_county_it_reaches_into() -> None:
    overhang = agency(COOK).on_other_land(geodesic_circle(*DOWNTOWN_CHICAGO, 30.0))
    assert overhang.counties == (DUPAGE, LAKE_IN)


def test_open_water_far_from_the_shore_and_land_outside_the_us_do_not_count() -> None:
    lake_michigan = geodesic_circle(42.0, -87.3, 10.0)  # no county land at all
    assert agency(COOK).on_other_land(lake_michigan).is_empty
    windsor = geodesic_circle(42.30, -83.00, 4.0)  # Detroit River and Windsor, Ontario
    wayne = agency(WAYNE_MI, 0.0)
    assert not wayne.outside(windsor).is_empty
    assert wayne.on_other_land(windsor).is_empty


def test_a_states_own_counties_are_never_other_land_even_past_its_coarser_outline() -> None:
    illinois = agency(ILLINOIS, 0.0)
    for county in ("017031", "017097", "017201"):  # Cook, Lake IL, Winnebago
        assert illinois.on_other_land(same_geometry(county)).is_empty
    bare = allowed_area(same_geometry(ILLINOIS), 0.0)  # a GeoJSON jurisdiction: no own counties
    assert not bare.on_other_land(same_geometry("017097")).is_empty


@settings(max_examples=40, deadline=None)
@given(
    code=st.sampled_from([COOK, LAKE_IN, "022071", "051770", "002020"]),
    tolerance_km=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_a_jurisdictions_own_outline_lies_within_it_boundary_included(
    code: str, tolerance_km: float
) -> None:
    assert agency(code, tolerance_km).on_other_land(same_geometry(code)).is_empty


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(41.45, 42.2),
    lon=st.floats(-88.3, -87.2),
    radius_km=st.floats(0.5, 40.0),
    code=st.sampled_from([COOK, ILLINOIS]),
    tolerance_km=st.sampled_from([0.0, 2.0]),
)
def test_the_clipped_area_passes_the_check_and_keeps_what_was_acceptable(
    lat: float, lon: float, radius_km: float, code: str, tolerance_km: float
) -> None:
    allowed = agency(code, tolerance_km)
    area = geodesic_circle(lat, lon, radius_km)
    clipped = allowed.clip(area)
    if clipped is None:
        assert not allowed.on_other_land(area).is_empty
        return
    assert shapely.is_valid(clipped)
    assert shapely.get_type_id(clipped) in (3, 6)
    assert allowed.on_other_land(clipped).is_empty
    # Only other jurisdictions' land is cut: the jurisdiction's part of the area stays, but
    # for a strip a few centimetres wide where the cut runs along its edge.
    inside = shapely.intersection(area, same_geometry(code))
    strip_m2 = 0.05 * shapely.length(area) * M_PER_DEGREE
    removed_m2 = shapely.area(shapely.difference(inside, clipped)) * M2_PER_SQUARE_DEGREE
    assert removed_m2 <= strip_m2
    # The cut is at the jurisdiction's own line, not at the tolerance: no neighbour's land
    # outside the jurisdiction is left.
    others = [LAKE_IN, *([DUPAGE, "017097", "017089", "017111", "017197"] if code == COOK else [])]
    neighbours = shapely.difference(
        shapely.union_all([same_geometry(other) for other in others]), same_geometry(code)
    )
    left_m2 = shapely.area(shapely.intersection(clipped, neighbours)) * M2_PER_SQUARE_DEGREE
    assert left_m2 <= strip_m2


def test_an_area_wholly_on_another_jurisdictions_land_clips_to_nothing() -> None:
    gary = geodesic_circle(41.5934, -87.3464, 3.0)
    assert agency(COOK).clip(gary) is None
    assert agency(COOK).on_other_land(gary).counties == (LAKE_IN,)


@pytest.mark.parametrize(
    ("km2", "words"),
    [
        (0.0, "less than 0.1 km²"),
        (0.0362, "less than 0.1 km²"),
        (0.1, "about 0.1 km²"),
        (6.97, "about 7.0 km²"),
        (1250.4, "about 1,250 km²"),
    ],
)
def test_an_overhang_is_never_said_to_be_about_nothing(km2: float, words: str) -> None:
    assert format_km2(km2) == words


# Every polygon of an area must reach the jurisdiction, widened by the tolerance.

OFFSHORE = (41.8781, -87.565)  # over the lake, 3.0 km from Cook County's outline at its nearest


@pytest.mark.parametrize("code", [COOK, ILLINOIS])
@pytest.mark.parametrize("radius_km", [10.0, 8.0, 5.0, 4.0])
def test_a_circle_around_downtown_chicago_reaches_the_jurisdiction(
    code: str, radius_km: float
) -> None:
    circle = geodesic_circle(*DOWNTOWN_CHICAGO, radius_km)
    assert agency(code).apart(circle).is_empty
    assert agency(code).reaching(circle) is circle


@pytest.mark.parametrize(
    ("radius_km", "tolerance_km", "reaches"),
    [(3.1, 0.0, True), (1.5, 2.0, True), (1.5, 0.0, False), (0.8, 2.0, False)],
)
def test_a_circle_over_the_lake_reaches_the_jurisdiction_when_within_the_tolerance(
    radius_km: float, tolerance_km: float, reaches: bool
) -> None:
    circle = geodesic_circle(*OFFSHORE, radius_km)
    allowed = agency(COOK, tolerance_km)
    assert allowed.on_other_land(circle).is_empty  # water: nobody else's land
    apart = allowed.apart(circle)
    assert apart.is_empty is reaches
    if not reaches:
        assert apart.distance_km == pytest.approx(3.0 - radius_km, abs=0.05)
        assert shapely.equals_exact(apart.geometry, circle, tolerance=0.0)
        assert allowed.reaching(circle) is None


def test_open_water_far_from_the_shore_and_land_outside_the_us_do_not_reach_it() -> None:
    lake_michigan = geodesic_circle(42.0, -87.3, 10.0)
    apart = agency(COOK).apart(lake_michigan)
    assert not apart.is_empty
    assert apart.distance_km is not None
    assert 15.0 < apart.distance_km < 20.0
    assert apart.near_lat is not None
    toronto = geodesic_circle(43.6532, -79.3832, 10.0)
    for code in (COOK, ILLINOIS, WAYNE_MI):
        far = agency(code).apart(toronto)
        assert agency(code).on_other_land(toronto).is_empty
        assert far.distance_km is not None
        assert far.distance_km > 300.0


def test_an_area_touching_the_jurisdictions_edge_reaches_it() -> None:
    jurisdiction = shapely.box(-90.0, 40.0, -89.5, 40.5)
    allowed = allowed_area(jurisdiction, 0.0)
    assert allowed.apart(shapely.box(-89.5, 40.1, -89.4, 40.2)).is_empty  # shares an edge
    assert not allowed.apart(shapely.box(-89.499, 40.1, -89.4, 40.2)).is_empty  # 85 m away


def test_each_polygon_of_an_area_must_reach_it_and_the_rest_is_kept() -> None:
    downtown = geodesic_circle(*DOWNTOWN_CHICAGO, 4.0)
    lake = geodesic_circle(42.0, -87.3, 5.0)
    area = shapely.MultiPolygon([downtown, lake])
    allowed = agency(COOK)
    apart = allowed.apart(area)
    assert shapely.equals_exact(apart.geometry, lake, tolerance=0.0)
    assert apart.area_km2 == pytest.approx(math.pi * 5.0**2, rel=0.01)
    assert shapely.equals_exact(allowed.reaching(area), downtown, tolerance=0.0)
    assert shapely.equals_exact(allowed.fix(area), downtown, tolerance=0.0)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(41.45, 42.3),
    lon=st.floats(-88.3, -86.8),
    radius_km=st.floats(0.5, 40.0),
    code=st.sampled_from([COOK, ILLINOIS]),
    tolerance_km=st.sampled_from([0.0, 2.0]),
)
def test_the_fixed_area_passes_both_checks_and_keeps_what_reached_the_jurisdiction(
    lat: float, lon: float, radius_km: float, code: str, tolerance_km: float
) -> None:
    allowed = agency(code, tolerance_km)
    area = geodesic_circle(lat, lon, radius_km)
    fixed = allowed.fix(area)
    if fixed is None:  # then nothing of the jurisdiction was in the area, but for a strip
        inside = shapely.intersection(area, same_geometry(code))
        strip_m2 = 0.05 * shapely.length(area) * M_PER_DEGREE
        assert shapely.area(inside) * M2_PER_SQUARE_DEGREE <= strip_m2
        return
    assert allowed.on_other_land(fixed).is_empty
    assert allowed.apart(fixed).is_empty
    # Only whole polygons that do not reach the jurisdiction are dropped from the clip.
    clipped = allowed.clip(area)
    assert clipped is not None
    kept = {piece.wkb for piece in shapely.get_parts(fixed)}
    assert kept <= {piece.wkb for piece in shapely.get_parts(clipped)}
    dropped = [p for p in shapely.get_parts(clipped) if p.wkb not in kept]
    assert all(not allowed.apart(piece).is_empty for piece in dropped)
