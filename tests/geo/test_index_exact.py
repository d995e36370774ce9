"""The audience index returns exactly the locations shapely's own predicate says are inside."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.index import AudienceIndex, unique_ids
from geo.same import same_geometry

from .strategies import (
    county_codes,
    expected_ids,
    lattice_areas,
    lattice_points,
    multipolygons,
    probe_points,
    sorted_ids,
    star_polygons,
)

DENSITIES = st.sampled_from([0.01, 0.3, 1.0, 4.0, 16.0])


def _assert_exact(area: Any, lon: np.ndarray, lat: np.ndarray, density: float) -> None:
    ids = np.arange(len(lon), dtype=np.int32) * 3 + 7
    subscribers = ids // 2
    index = AudienceIndex.build(ids, subscribers, lon, lat, cells_per_location=density)
    matches = index.query(area)
    np.testing.assert_array_equal(sorted_ids(matches), expected_ids(area, lon, lat, ids))
    np.testing.assert_array_equal(matches.subscriber_ids, matches.location_ids // 2)


@settings(max_examples=150, deadline=None)
@given(area=star_polygons(), seed=st.integers(0, 2**32 - 1), density=DENSITIES)
def test_random_polygons_match_shapely_exactly(area: Any, seed: int, density: float) -> None:
    _assert_exact(area, *probe_points(area, seed), density)


@settings(max_examples=60, deadline=None)
@given(area=star_polygons(hole=True), seed=st.integers(0, 2**32 - 1), density=DENSITIES)
def test_polygons_with_holes_match_shapely_exactly(area: Any, seed: int, density: float) -> None:
    _assert_exact(area, *probe_points(area, seed), density)


@settings(max_examples=60, deadline=None)
@given(area=multipolygons(), seed=st.integers(0, 2**32 - 1), density=DENSITIES)
def test_multipolygons_match_shapely_exactly(area: Any, seed: int, density: float) -> None:
    _assert_exact(area, *probe_points(area, seed), density)


@settings(max_examples=60, deadline=None)
@given(area=lattice_areas(), density=DENSITIES)
def test_points_exactly_on_vertices_and_edges_are_inside(area: Any, density: float) -> None:
    lon, lat = lattice_points(area)
    on_boundary = shapely.intersects_xy(area.boundary, lon, lat)
    assert on_boundary.any()
    _assert_exact(area, lon, lat, density)
    ids = np.arange(len(lon), dtype=np.int32)
    found = AudienceIndex.build(ids, ids, lon, lat, cells_per_location=density).query(area)
    assert set(np.flatnonzero(on_boundary)) <= set(found.location_ids.tolist())


@settings(max_examples=40, deadline=None)
@given(code=st.sampled_from(county_codes()), seed=st.integers(0, 2**32 - 1), density=DENSITIES)
def test_real_county_polygons_match_shapely_exactly(code: str, seed: int, density: float) -> None:
    county = same_geometry(code)
    _assert_exact(county, *probe_points(county, seed, random_count=1500), density)


@settings(max_examples=40, deadline=None)
@given(area=star_polygons(hole=True), seed=st.integers(0, 2**32 - 1), density=DENSITIES)
def test_areas_reaching_beyond_the_indexed_points_match_shapely(
    area: Any, seed: int, density: float
) -> None:
    lon, lat = probe_points(area, seed)
    west = lon <= area.centroid.x  # the grid then covers only the western part of the area
    _assert_exact(area, lon[west], lat[west], density)


def test_an_empty_index_finds_nobody() -> None:
    index = AudienceIndex.build([], [], [], [])
    assert len(index) == 0
    assert len(index.query(same_geometry("017031")).location_ids) == 0
    assert index.audience([same_geometry("017031")]).summary()["subscribers"] == 0


def test_an_area_away_from_every_location_finds_nobody() -> None:
    index = AudienceIndex.build([1, 2], [1, 2], [-87.6, -87.7], [41.8, 41.9])
    assert len(index.query(shapely.box(10, 10, 11, 11)).location_ids) == 0


def test_one_location_is_found_by_an_area_around_it() -> None:
    index = AudienceIndex.build([42], [7], [-87.6], [41.8])
    matches = index.query(shapely.box(-88, 41, -87, 42))
    assert matches.location_ids.tolist() == [42]
    assert matches.subscriber_ids.tolist() == [7]


def test_an_empty_polygon_finds_nobody_and_a_point_is_not_an_area() -> None:
    index = AudienceIndex.build([1], [1], [-87.6], [41.8])
    assert len(index.query(shapely.Polygon()).location_ids) == 0
    with pytest.raises(ValueError, match="Point"):
        index.query(shapely.Point(-87.6, 41.8))


def test_the_callers_geometry_is_never_prepared_by_a_query() -> None:
    area = shapely.box(-88, 41, -87, 42)
    AudienceIndex.build([1], [1], [-87.6], [41.8]).query(area)
    assert not shapely.is_prepared(area)


def test_unique_ids_sorts_and_drops_repeats_like_numpy() -> None:
    values = np.random.default_rng(3).integers(0, 50, 500).astype(np.int32)
    np.testing.assert_array_equal(unique_ids(values), np.unique(values))
    assert len(unique_ids(np.empty(0, np.int32))) == 0
