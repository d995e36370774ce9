"""CAP output of areas with holes: a CAP polygon cannot hold one, so a polygon with holes goes
out as hole-free pieces whose union is exactly the area, and the holes stay out of the alert."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geo.areas import parse_cap_polygon, parse_geojson, to_cap_polygons, without_holes
from tests.geo.strategies import lattice_areas, star_polygons

SQUARE_WITH_A_HOLE = shapely.Polygon(
    [(-88.0, 41.0), (-87.0, 41.0), (-87.0, 42.0), (-88.0, 42.0)],
    [[(-87.8, 41.2), (-87.8, 41.4), (-87.6, 41.4), (-87.6, 41.2)]],
)


def assert_exact_pieces(area: Any, texts: list[str]) -> None:
    """The CAP polygons have no holes, meet only along edges, and make up exactly `area`;
    no point of a hole is in any of them."""
    pieces = [parse_cap_polygon(text) for text in texts]
    assert all(shapely.get_num_interior_rings(piece) == 0 for piece in pieces)
    assert all(shapely.is_valid(piece) and shapely.area(piece) > 0.0 for piece in pieces)
    scale = float(shapely.area(area))
    union = shapely.union_all(pieces)
    assert float(shapely.area(shapely.symmetric_difference(union, area))) <= 1e-9 * scale
    overlap = sum(float(shapely.area(piece)) for piece in pieces) - float(shapely.area(union))
    assert abs(overlap) <= 1e-9 * scale
    for polygon in shapely.get_parts(area):
        for ring in polygon.interiors:
            inside_hole = shapely.point_on_surface(shapely.Polygon(ring))
            assert not any(shapely.intersects(piece, inside_hole) for piece in pieces)


def test_a_polygon_with_a_hole_goes_out_as_pieces_of_exactly_the_area() -> None:
    texts = to_cap_polygons(SQUARE_WITH_A_HOLE)
    assert len(texts) >= 2
    assert all(text.split()[0] == text.split()[-1] for text in texts)  # closed
    assert_exact_pieces(SQUARE_WITH_A_HOLE, texts)
    assert not any(shapely.intersects_xy(parse_cap_polygon(t), -87.7, 41.3) for t in texts)


def test_a_geojson_area_with_holes_in_several_parts_keeps_each_hole_out() -> None:
    rings = (SQUARE_WITH_A_HOLE.exterior, SQUARE_WITH_A_HOLE.interiors[0])
    square = [[list(xy) for xy in ring.coords] for ring in rings]
    far = [[-80.0, 30.0], [-79.0, 30.0], [-79.0, 31.0], [-80.0, 31.0], [-80.0, 30.0]]
    hole = [[-79.6, 30.4], [-79.4, 30.4], [-79.4, 30.6], [-79.6, 30.6], [-79.6, 30.4]]
    area = parse_geojson({"type": "MultiPolygon", "coordinates": [square, [far, hole]]})
    texts = to_cap_polygons(area)
    assert len(texts) >= 4
    assert_exact_pieces(area, texts)


def test_an_area_without_holes_goes_out_as_it_is() -> None:
    multi = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    texts = to_cap_polygons(multi)
    assert [parse_cap_polygon(text) for text in texts] == list(shapely.get_parts(multi))


def test_the_pieces_keep_every_vertex_of_the_polygon_where_it_was() -> None:
    pieces = without_holes(SQUARE_WITH_A_HOLE)
    corners = {tuple(xy) for piece in pieces for xy in shapely.get_coordinates(piece)}
    assert {tuple(xy) for xy in shapely.get_coordinates(SQUARE_WITH_A_HOLE)} <= corners


@st.composite
def holed_polygons(draw: st.DrawFn) -> Any:
    """A star polygon with up to eight small holes at random places inside it."""
    shell = draw(star_polygons())
    count = draw(st.integers(1, 8))
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(shell))
    size = min(xmax - xmin, ymax - ymin)
    holes: list[Any] = []
    for _ in range(count):
        x = draw(st.floats(xmin, xmax))
        y = draw(st.floats(ymin, ymax))
        radius = size * draw(st.floats(0.01, 0.1))
        sides = draw(st.integers(3, 8))
        turn = draw(st.floats(0.0, 2 * math.pi))
        angles = turn + np.arange(sides) * 2 * math.pi / sides
        hole = shapely.Polygon(
            np.column_stack([x + radius * np.cos(angles), y + radius * np.sin(angles)])
        )
        if shapely.contains_properly(shell, hole) and not any(
            shapely.intersects(hole, other) for other in holes
        ):
            holes.append(hole)
    assume(holes)
    polygon = shapely.Polygon(shell.exterior, [hole.exterior for hole in holes])
    assume(shapely.is_valid(polygon))
    return polygon


@settings(max_examples=150, deadline=None)
@given(area=st.one_of(holed_polygons(), star_polygons(hole=True), lattice_areas()))
def test_any_holed_area_goes_out_as_hole_free_pieces_of_exactly_the_area(area: Any) -> None:
    texts = to_cap_polygons(area)
    assert_exact_pieces(area, texts)
    # The text is exact: each polygon reads back to the very piece it was written from.
    pieces = [piece for polygon in shapely.get_parts(area) for piece in without_holes(polygon)]
    assert len(pieces) == len(texts)
    for piece, text in zip(pieces, texts, strict=True):
        assert shapely.equals_exact(parse_cap_polygon(text), piece, tolerance=0.0)
