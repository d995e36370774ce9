"""Alert areas: the four input forms, their validation, SAME lookups and CAP output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import shapely

from geo.areas import (
    Area,
    check_area,
    parse_area,
    parse_cap_polygon,
    parse_geojson,
    source_vertex_count,
    to_cap_polygons,
)
from geo.errors import AreaError
from geo.same import lookup_same, normalise_same, same_areas, same_geometry

SQUARE = "41.0,-88.0 42.0,-88.0 42.0,-87.0 41.0,-87.0 41.0,-88.0"
SQUARE_GEOJSON: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[-88.0, 41.0], [-87.0, 41.0], [-87.0, 42.0], [-88.0, 42.0], [-88.0, 41.0]],
        [[-87.8, 41.2], [-87.8, 41.4], [-87.6, 41.4], [-87.6, 41.2], [-87.8, 41.2]],
    ],
}
NWS_POLYGONS = Path(__file__).parent / "data" / "nws_polygons.txt"


def test_cap_polygon_parses_to_lon_lat_order() -> None:
    polygon = parse_cap_polygon(SQUARE)
    assert polygon.bounds == (-88.0, 41.0, -87.0, 42.0)
    assert shapely.intersects_xy(polygon, -87.5, 41.5)


def test_cap_polygon_accepts_any_whitespace_between_pairs() -> None:
    text = "  41,-88\n42,-88\t42,-87   41,-87 41,-88 "
    assert parse_cap_polygon(text).equals(parse_cap_polygon(SQUARE))


def test_cap_polygon_round_trips_through_cap_text_exactly() -> None:
    polygon = parse_cap_polygon("41.123456789,-88.1 42.000001,-88 42,-87.33333 41.123456789,-88.1")
    (text,) = to_cap_polygons(polygon)
    assert shapely.equals_exact(parse_cap_polygon(text), polygon, tolerance=0.0)


def test_real_nws_polygons_parse_and_round_trip() -> None:
    for line in NWS_POLYGONS.read_text().splitlines():
        verdict, _, text = line.partition(" ")
        if verdict == "valid":
            polygon = parse_cap_polygon(text)
            assert shapely.equals_exact(parse_cap_polygon(to_cap_polygons(polygon)[0]), polygon)


def test_a_real_self_intersecting_nws_polygon_is_refused_with_its_location() -> None:
    text = next(
        line.partition(" ")[2]
        for line in NWS_POLYGONS.read_text().splitlines()
        if line.startswith("invalid ")
    )
    with pytest.raises(AreaError, match=r"self-intersection at lat 38\.3678, lon -76\.2475"):
        parse_cap_polygon(text)


def test_geojson_polygon_keeps_its_hole() -> None:
    polygon = parse_geojson(SQUARE_GEOJSON)
    assert not shapely.intersects_xy(polygon, -87.7, 41.3)
    assert shapely.intersects_xy(polygon, -87.5, 41.5)


def test_geojson_feature_and_multipolygon_are_accepted() -> None:
    feature = {"type": "Feature", "properties": {}, "geometry": SQUARE_GEOJSON}
    assert parse_geojson(feature).equals(parse_geojson(SQUARE_GEOJSON))
    far = [[[-80.0, 30.0], [-79.0, 30.0], [-79.0, 31.0], [-80.0, 30.0]]]
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE_GEOJSON["coordinates"], far]}
    assert parse_geojson(multi).geom_type == "MultiPolygon"


def test_geojson_positions_may_carry_an_altitude() -> None:
    ring = [[-88, 41, 0], [-87, 41, 0], [-87, 42, 0], [-88, 41, 0]]
    assert parse_geojson({"type": "Polygon", "coordinates": [ring]}).area > 0


def test_same_county_code_resolves_to_cook_county_illinois() -> None:
    area = lookup_same("017031")
    assert (area.name, area.state, area.kind) == ("Cook", "IL", "county")
    assert shapely.intersects_xy(same_geometry("017031"), -87.6298, 41.8781)  # the Loop


def test_same_state_code_resolves_to_the_whole_state() -> None:
    area = lookup_same("017000")
    assert (area.name, area.kind) == ("Illinois", "state")
    illinois = same_geometry("017000")
    assert illinois.covers(shapely.Point(-89.65, 39.78))  # Springfield
    assert illinois.area > same_geometry("017031").area * 50


def test_same_part_of_county_code_resolves_to_the_whole_county() -> None:
    assert normalise_same("917031") == "017031"
    assert same_geometry("917031").equals(same_geometry("017031"))


def test_same_geometries_are_new_objects_so_callers_never_share_one() -> None:
    assert same_geometry("017031") is not same_geometry("017031")


def test_bundled_same_data_holds_every_county_and_state_as_a_valid_area() -> None:
    areas = same_areas()
    assert sum(a.kind == "county" for a in areas) == 4033
    assert sum(a.kind == "state" for a in areas) == 59
    repaired = ["022000", "024011", "057540", "077730"]  # self-intersecting as published
    for code in repaired:
        assert shapely.is_valid(same_geometry(code))
        assert shapely.get_type_id(same_geometry(code)) in (3, 6)


def test_parse_area_keeps_what_the_officer_sent() -> None:
    area = parse_area("polygon", SQUARE, description="Near the Loop")
    assert area == Area("polygon", SQUARE, area.geometry, "Near the Loop")
    assert parse_area("same", "017031").source == "017031"
    assert parse_area("geojson", SQUARE_GEOJSON).source is SQUARE_GEOJSON
    assert parse_area("circle", "41.88,-87.63 10").geometry.geom_type == "Polygon"


@pytest.mark.parametrize(
    ("kind", "source", "message"),
    [
        ("polygon", "41,-88 42,-88 42,-87 41,-87", "not closed"),
        ("polygon", "41,-88 42,-88 41,-88", "has 3 points; a polygon needs at least 4"),
        (
            "polygon",
            "41,-88 42,-87 42,-88 41,-87 41,-88",
            "self-intersection at lat 41.5, lon -87.5",
        ),
        ("polygon", "91,-88 92,-88 92,-87 91,-88", "latitude 91.0 is outside -90..90"),
        ("polygon", "41,-188 42,-188 42,-187 41,-188", "longitude -188.0 is outside -180..180"),
        ("polygon", "41,-88 41,-87 41,-86 41,-88", "empty"),
        ("polygon", "", "empty"),
        ("polygon", "41;-88 42,-88 42,-87 41;-88", "not a 'lat,lon' pair"),
        ("polygon", "41,-88 4x,-88 42,-87 41,-88", "'4x' is not a decimal number"),
        ("polygon", "41,-88 nan,-88 42,-87 41,-88", "'nan' is not a decimal number"),
        ("polygon", "41,-88 1e1,-88 42,-87 41,-88", "not a decimal number"),
        ("polygon", "10,-170 10,170 11,170 10,-170", "antimeridian"),
        ("polygon", 41, "must be text"),
        ("same", "999999", "names no known county or state"),
        ("same", "17031", "not 6 digits"),
        ("same", "01703a", "not 6 digits"),
        ("circle", "41.88,-87.63 0", "radius is 0 km"),
        ("circle", "41.88,-87.63", "not of the form"),
        ("geojson", {"type": "Point", "coordinates": [-88, 41]}, "'Point' is not an area"),
        ("geojson", {"type": "LineString", "coordinates": []}, "'LineString' is not an area"),
        ("geojson", {"type": "Polygon", "coordinates": []}, "has no rings"),
        ("geojson", {"type": "Polygon", "coordinates": [[[-88, 41], [-87, 41]]]}, "at least 4"),
        ("geojson", {"type": "Polygon", "coordinates": [[[-88, 41], [-87, 41], "x"]]}, "array"),
        ("geojson", {"type": "Polygon", "coordinates": [[[-88, 41], [True, 1]]]}, "not a number"),
        (
            "geojson",
            {"type": "Polygon", "coordinates": [[[-88, 91], [1, 1], [2, 2], [-88, 91]]]},
            "latitude",
        ),
        ("geojson", {"type": "Feature", "geometry": None}, "no Polygon or MultiPolygon"),
        ("geojson", "not a dict", "must be a JSON object"),
        ("kml", "<kml/>", "unknown area kind"),
    ],
)
def test_bad_areas_are_refused_with_a_message_naming_the_problem(
    kind: str, source: Any, message: str
) -> None:
    with pytest.raises(AreaError, match=re.escape(message)):
        parse_area(kind, source)


def test_a_hole_outside_its_shell_is_refused_not_repaired() -> None:
    far_hole = [[-80.0, 30.0], [-79.0, 30.0], [-79.0, 31.0], [-80.0, 30.0]]
    bad = {"type": "Polygon", "coordinates": [SQUARE_GEOJSON["coordinates"][0], far_hole]}
    with pytest.raises(AreaError, match="hole lies outside shell"):
        parse_geojson(bad)


def test_overlapping_multipolygon_parts_are_refused() -> None:
    shell = SQUARE_GEOJSON["coordinates"][0]
    with pytest.raises(AreaError, match="not a valid polygon"):
        parse_geojson({"type": "MultiPolygon", "coordinates": [[shell], [shell]]})


def test_cap_output_cuts_around_holes_rather_than_widening_the_alert() -> None:
    # Exactness, with hypothesis, is in test_cap_polygons.py.
    area = parse_geojson(SQUARE_GEOJSON)
    pieces = [parse_cap_polygon(text) for text in to_cap_polygons(area)]
    assert not any(shapely.intersects_xy(piece, -87.7, 41.3) for piece in pieces)  # the hole
    assert shapely.union_all(pieces).equals(area)


def test_cap_output_gives_one_polygon_per_part() -> None:
    multi = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    texts = to_cap_polygons(multi)
    assert len(texts) == 2
    assert texts[0].split()[0] == texts[0].split()[-1]  # closed


def test_check_area_accepts_valid_polygons_and_refuses_the_rest() -> None:
    assert check_area(shapely.box(0, 0, 1, 1)).area == 1
    with pytest.raises(AreaError, match="a Point is not an area"):
        check_area(shapely.Point(0, 0))
    with pytest.raises(AreaError, match=r"longitude 200\.0"):
        check_area(shapely.box(199, 0, 200, 1))


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("polygon", "41.7,-87.9 42.0,-87.9 42.0,-87.6 41.7,-87.9"),
        ("circle", "41.8,-87.7 5"),
        ("circle", "41.8,-87.7 900"),
        ("same", "017031"),
        ("same", "117031"),
        (
            "geojson",
            {
                "type": "Feature",
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [
                            [[0, 0], [1, 0], [1, 1], [0, 0]],
                            [[0.5, 0.2], [0.6, 0.2], [0.6, 0.3], [0.5, 0.2]],
                        ],
                        [[[3, 3], [4, 3], [4, 4], [3, 3]]],
                    ],
                },
            },
        ),
    ],
)
def test_source_vertex_count_counts_the_vertices_parsing_will_make(kind: str, source: Any) -> None:
    parsed = parse_area(kind, source).geometry
    assert source_vertex_count(kind, source) == shapely.get_num_coordinates(parsed)


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("same", "999999"),
        ("circle", "41.8,-87.7"),
        ("circle", "41.8,-87.7 nan"),
        ("circle", "41.8,-87.7 5000"),
        ("geojson", {"type": "Polygon", "coordinates": 5}),
        ("geojson", {"type": "Point", "coordinates": [1, 2]}),
        ("polygon", 12),
    ],
)
def test_source_vertex_count_of_malformed_input_is_zero_for_the_parser_to_refuse(
    kind: str, source: Any
) -> None:
    assert source_vertex_count(kind, source) == 0
