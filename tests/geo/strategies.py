"""Hypothesis strategies for areas and probe points, and the brute-force reference answer."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from hypothesis import assume
from hypothesis import strategies as st

from geo.index import Matches
from geo.same import same_areas

Floats = npt.NDArray[np.float64]


@st.composite
def star_polygons(draw: st.DrawFn, *, hole: bool = False) -> Any:
    """Simple polygons: vertices at sorted angles around a centre, sizes from 1 m to 1000 km."""
    count = draw(st.integers(3, 30))
    lon = draw(st.floats(-125.0, -67.0))
    lat = draw(st.floats(25.0, 49.0))
    scale = draw(st.sampled_from([1e-5, 1e-3, 0.05, 1.0, 8.0]))
    gaps = np.array(draw(st.lists(st.floats(0.3, 1.0), min_size=count, max_size=count)))
    radii = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=count, max_size=count)))
    angles = draw(st.floats(0.0, 2 * math.pi)) + np.cumsum(gaps) / gaps.sum() * 2 * math.pi
    shell = np.column_stack(
        [lon + scale * radii * np.cos(angles), lat + scale * radii * np.sin(angles)]
    )
    holes = [np.array([lon, lat]) + (shell - [lon, lat]) * 0.3] if hole else []
    polygon = shapely.Polygon(shell, holes)
    assume(shapely.is_valid(polygon) and polygon.area > 0)
    return polygon


@st.composite
def lattice_areas(draw: st.DrawFn) -> Any:
    """Unions of boxes on a 1/8° lattice: axis-aligned edges, holes, touching parts."""
    boxes = draw(
        st.lists(
            st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(1, 6), st.integers(1, 6)),
            min_size=1,
            max_size=6,
        )
    )
    parts = [shapely.box(x / 8, y / 8, (x + w) / 8, (y + h) / 8) for x, y, w, h in boxes]
    area = shapely.union_all(parts)
    assume(shapely.get_type_id(area) in (3, 6) and shapely.is_valid(area))
    return shapely.affinity.translate(area, -90.0, 38.0)


@st.composite
def multipolygons(draw: st.DrawFn) -> Any:
    """Two or three star polygons whose union is a valid (Multi)Polygon."""
    parts = draw(st.lists(star_polygons(hole=draw(st.booleans())), min_size=2, max_size=3))
    area = shapely.union_all(parts)
    assume(shapely.get_type_id(area) in (3, 6) and shapely.is_valid(area))
    return area


@functools.cache
def county_codes() -> list[str]:
    """Every county and marine zone code in the bundled SAME data."""
    return [area.code for area in same_areas() if area.kind == "county"]


def probe_points(area: Any, seed: int, random_count: int = 400) -> tuple[Floats, Floats]:
    """Vertices, edge midpoints and quarter points, random points around, and far points."""
    rng = np.random.default_rng(seed)
    coords = np.asarray(shapely.get_coordinates(area), dtype=np.float64)
    a, b = coords[:-1], coords[1:]
    xmin, ymin, xmax, ymax = area.bounds
    pad_x, pad_y = (xmax - xmin) * 0.1 + 1e-9, (ymax - ymin) * 0.1 + 1e-9
    random = np.column_stack(
        [
            rng.uniform(xmin - pad_x, xmax + pad_x, random_count),
            rng.uniform(ymin - pad_y, ymax + pad_y, random_count),
        ]
    )
    far = np.array([[xmin - 1.0, ymin - 1.0], [xmax + 2.0, (ymin + ymax) / 2]])
    points = np.concatenate([coords, (a + b) / 2, a + (b - a) * 0.25, random, far])
    order = rng.permutation(len(points))
    return points[order, 0], points[order, 1]


def lattice_points(area: Any) -> tuple[Floats, Floats]:
    """Every point of the 1/16° lattice around a lattice area: vertices, edges and between."""
    xmin, ymin, xmax, ymax = area.bounds
    xs = np.arange(xmin - 0.25, xmax + 0.25 + 1e-9, 1 / 16)
    ys = np.arange(ymin - 0.25, ymax + 0.25 + 1e-9, 1 / 16)
    lon, lat = np.meshgrid(xs, ys)
    return lon.ravel(), lat.ravel()


def expected_ids(area: Any, lon: Floats, lat: Floats, ids: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The reference: shapely's own predicate on the unindexed arrays, sorted ids."""
    return np.sort(ids[shapely.intersects_xy(area, lon, lat)])


def sorted_ids(matches: Matches) -> npt.NDArray[Any]:
    """A query's location ids, sorted, for comparison with expected_ids."""
    return np.sort(matches.location_ids)
