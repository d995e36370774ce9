"""The SAME codes of the counties whose land an area covers, from the bundled boundaries."""

from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.areas import parse_area, parse_cap_polygon
from geo.covered_counties import MIN_COVERED_KM2, county_codes
from geo.errors import AreaError
from geo.same import same_areas, same_geometry
from tests.geo.strategies import multipolygons, star_polygons

COOK, DUPAGE, LAKE_IN = "017031", "017043", "018089"
ROANOKE_COUNTY, SALEM, ROANOKE_CITY = "051161", "051775", "051770"
KM2_PER_SQUARE_DEGREE = 111.195**2 * 0.7454  # cos(41.8°)
NWS_WIND = (
    Path(__file__).parents[1]
    / "data"
    / "cap"
    / "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
)


def circle(text: str) -> Any:
    return parse_area("circle", text).geometry


@pytest.mark.parametrize(
    ("area", "codes"),
    [
        pytest.param("41.88,-87.63 10", [COOK], id="downtown Chicago"),
        pytest.param("41.88,-87.63 0.03", [COOK], id="a 30 m circle"),
        pytest.param("41.85,-87.92 3", [COOK, DUPAGE], id="across the Cook-DuPage line"),
        pytest.param("41.9,-87.55 10", [COOK], id="shore and lake: the lake is no county"),
        pytest.param("42.0,-87.3 10", [], id="Lake Michigan only"),
        pytest.param("27.0,-90.0 50", [], id="Gulf of Mexico: marine zones are no county"),
        pytest.param("37.29,-80.06 3", [ROANOKE_COUNTY, SALEM], id="a city and its county"),
    ],
)
def test_an_area_names_the_counties_whose_land_it_covers(area: str, codes: list[str]) -> None:
    assert county_codes(circle(area)) == codes


STATES = ("017", "002", "022", "051")  # Illinois, Alaska (the widest overlaps), Louisiana, Virginia
# Virginia counties whose bundled outline holds independent cities, which it then covers too.
CITIES_WITHIN = {
    "051003": ["051540"],
    "051005": ["051580"],
    "051015": ["051790", "051820"],
    "051069": ["051840"],
    "051081": ["051595"],
    "051089": ["051690"],
    ROANOKE_COUNTY: [ROANOKE_CITY, SALEM],
    "051163": ["051530", "051678"],
    "051165": ["051660"],
    "051195": ["051720"],
}


@pytest.mark.parametrize("state", STATES)
def test_a_county_outline_names_that_county_alone_though_its_neighbours_overlap_it(
    state: str,
) -> None:
    # The bundled outlines are generalised, so neighbours overlap along their lines (in
    # Alaska by up to 3,000 km²): an area drawn as one county must not name its neighbours.
    counties = [
        a.code for a in same_areas() if a.kind == "county" and a.state and a.code.startswith(state)
    ]
    found = {code: county_codes(same_geometry(code)) for code in counties}
    expected = {code: sorted([code, *CITIES_WITHIN.get(code, [])]) for code in counties}
    assert found == expected
    assert len(counties) == {"017": 102, "002": 30, "022": 64, "051": 133}[state]


def test_an_area_that_only_touches_a_county_does_not_name_it() -> None:
    cook = same_geometry(COOK)
    around = shapely.difference(shapely.buffer(shapely.envelope(cook), 0.05), cook)
    assert shapely.intersects(around, cook)  # they share Cook's whole outline
    codes = county_codes(around)
    assert COOK not in codes
    assert DUPAGE in codes
    assert LAKE_IN in codes


def test_a_city_cut_out_of_its_county_is_named_where_the_area_covers_both() -> None:
    # Salem lies inside Roanoke County's bundled outline; an area over the county's land
    # west of it names the county only, and with Salem added names Salem too (though the
    # county's outline holds Salem, and the area touches the city of Roanoke's edge).
    salem = same_geometry(SALEM)
    west = shapely.difference(shapely.affinity.translate(salem, xoff=-0.12), salem)
    assert county_codes(west) == [ROANOKE_COUNTY]
    assert county_codes(shapely.union_all([west, salem])) == [ROANOKE_COUNTY, SALEM]


def test_land_below_the_tolerance_or_in_a_named_county_does_not_name_another() -> None:
    # At 41.8°N DuPage's bundled outline reaches 85 m past Cook's western line. A strip 156 m
    # high from inside Cook to that line names Cook alone; reaching on into DuPage's own land
    # names DuPage once that land passes the tolerance (40 m: 0.6 ha; 400 m: 6 ha).
    cook, dupage = same_geometry(COOK), same_geometry(DUPAGE)
    line = shapely.intersection(shapely.LineString([(-88.1, 41.8), (-87.7, 41.8)]), cook.boundary)
    edge = float(shapely.get_x(line))
    assert shapely.area(shapely.intersection(dupage, shapely.box(edge, 41.7993, -87.8, 41.8007)))
    named = {}
    for reach_m in (0.0, 40.0, 400.0):
        strip = shapely.box(edge - reach_m / 83_100.0, 41.7993, -87.80, 41.8007)
        beyond = shapely.difference(shapely.intersection(strip, dupage), cook)
        beyond_km2 = shapely.area(beyond) * KM2_PER_SQUARE_DEGREE
        named[reach_m] = county_codes(strip)
        assert (DUPAGE in named[reach_m]) == (beyond_km2 > MIN_COVERED_KM2)
    assert named == {0.0: [COOK], 40.0: [COOK], 400.0: [COOK, DUPAGE]}


def test_the_nws_alert_names_its_own_county_among_those_its_212_polygons_cover() -> None:
    texts = re.findall(r"<polygon>([^<]+)</polygon>", NWS_WIND.read_text(encoding="utf-8"))
    polygons = []
    for text in texts:
        try:
            polygons.append(parse_cap_polygon(text))
        except AreaError:  # two of the NWS's own polygons self-intersect by a hair
            polygons.append(shapely.make_valid(shapely.Polygon(_lon_lat(text))))
    area = shapely.union_all(polygons)
    assert len(texts) == 212
    # The alert itself names 002198 (Prince of Wales-Hyder); its polygons reach the
    # neighbouring boroughs' coast too.
    assert county_codes(area) == ["002130", "002195", "002198"]


def _lon_lat(text: str) -> list[tuple[float, float]]:
    return [(float(lon), float(lat)) for lat, lon in (pair.split(",") for pair in text.split())]


def test_threads_computing_at_once_get_the_answers_one_thread_gets() -> None:
    areas = [circle(f"41.{n}5,-87.{n}2 {n + 2}") for n in range(8)]
    alone = [county_codes(area) for area in areas]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(county_codes, areas * 3)) == alone * 3


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="min_km2"):
        county_codes(circle("41.88,-87.63 1"), min_km2=-1.0)


@functools.cache
def all_counties() -> tuple[list[str], shapely.STRtree]:
    """Every land county's code, and an STRtree of their bundled outlines: the reference."""
    codes = [a.code for a in same_areas() if a.kind == "county" and a.state and a.code[0] == "0"]
    return codes, shapely.STRtree([same_geometry(code) for code in codes])


@settings(max_examples=25, deadline=None)
@given(st.one_of(star_polygons(), multipolygons()))
def test_every_county_named_is_covered_and_no_covered_land_is_left_unnamed(area: Any) -> None:
    codes = county_codes(area)
    every, tree = all_counties()
    touched = [every[i] for i in tree.query(area, predicate="intersects")]
    assert set(codes) <= set(touched)
    for code in codes:
        assert shapely.area(shapely.intersection(area, same_geometry(code))) > 0.0
    land = shapely.intersection(area, shapely.union_all([same_geometry(c) for c in touched]))
    named = shapely.union_all([same_geometry(c) for c in codes])
    km2 = 111.2 * 111.2  # per square degree: more than any of it is at these latitudes
    unnamed_km2 = shapely.area(shapely.difference(land, named)) * km2
    assert unnamed_km2 <= len(touched) * MIN_COVERED_KM2
