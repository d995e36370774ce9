"""The inline SVG map of an alert's areas: accessible, self-contained, small, and where expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
from defusedxml import ElementTree as ET

from alerts.svg import area_svg

SVG = "{http://www.w3.org/2000/svg}"
DATA = Path(__file__).parents[1] / "data" / "cap"


def paths(svg: str) -> list[str]:
    return [path.attrib["d"] for path in ET.fromstring(svg).iter(f"{SVG}path")]


def points(d: str) -> list[tuple[float, float]]:
    """The absolute points of "M x y l dx dy ... z" path data (the first ring only)."""
    numbers = [float(n) for n in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", d.split("z")[0])]
    x, y = numbers[:2]
    result = [(x, y)]
    for dx, dy in zip(numbers[2::2], numbers[3::2], strict=True):
        x, y = round(x + dx, 1), round(y + dy, 1)
        result.append((x, y))
    return result


def test_a_square_at_the_equator_fills_the_padded_frame_north_up() -> None:
    square = shapely.box(10.0, 0.0, 12.0, 2.0)
    (d,) = paths(area_svg([square], width=120, height=120, title="Square"))
    # 2° by 2° into 104 px (8 px padding): shapely's box runs (12,0) (12,2) (10,2) (10,0).
    assert d == "M112 112l0-104-104 0 0 104z"
    assert points(d) == [(112, 112), (112, 8), (8, 8), (8, 112)]


def test_x_is_scaled_by_the_cosine_of_the_middle_latitude() -> None:
    square = shapely.box(0.0, 59.5, 1.0, 60.5)  # cos(60°) = 0.5: half as wide as tall
    xs, ys = zip(
        *points(paths(area_svg([square], width=200, height=200, title="t"))[0]), strict=True
    )
    assert (max(ys) - min(ys), max(xs) - min(xs)) == pytest.approx((184.0, 92.0), abs=0.2)
    assert min(xs) == pytest.approx(200 / 2 - 46, abs=0.1)  # centred horizontally


def test_holes_and_every_polygon_of_a_multipolygon_are_drawn() -> None:
    with_hole = shapely.Polygon(
        [(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]]
    )
    islands = shapely.MultiPolygon([shapely.box(6, 0, 7, 1), shapely.box(8, 0, 9, 1)])
    svg = area_svg([with_hole, islands], title="Areas")
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}g").attrib["fill-rule"] == "evenodd"
    drawn = paths(svg)
    assert len(drawn) == 3
    assert drawn[0].count("M") == 2  # the shell, then the hole


def test_the_map_is_accessible_and_refers_to_nothing_outside_itself() -> None:
    title = 'AMBER Alert <script>alert("x")</script> & Sangamon'
    svg = area_svg([shapely.box(0, 0, 1, 1)], title=title)
    root = ET.fromstring(svg)
    assert (root.attrib["role"], root.attrib["aria-label"]) == ("img", title)
    assert root.find(f"{SVG}title").text == title
    assert root.attrib["viewBox"] == "0 0 320 240"
    assert {element.tag.removeprefix(SVG) for element in root.iter()} == {
        "svg",
        "title",
        "g",
        "path",
    }
    for reference in ("href", "<script", "url(", "<image", "<use"):
        assert reference not in svg


def nws_area() -> shapely.MultiPolygon:
    """The 212 polygons (93,040 vertices) of an NWS alert for Annette Island, Alaska."""
    text = DATA / "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
    rings = re.findall(r"<polygon>([^<]+)</polygon>", text.read_text())
    return shapely.MultiPolygon(
        [
            shapely.Polygon([tuple(map(float, pair.split(",")))[::-1] for pair in ring.split()])
            for ring in rings
        ]
    )


def test_an_area_with_thousands_of_vertices_stays_small() -> None:
    area = nws_area()
    assert len(shapely.get_coordinates(area)) == 93_040
    svg = area_svg([area], title="Annette Island")
    assert len(svg.encode()) < 30_000
    for d in paths(svg):
        assert re.fullmatch(r"(M[\d. ]+l[-\d. ]+z)+", d)
        assert not re.search(r"\.\d\d", d)  # tenths of a pixel at most


def test_nothing_to_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="no area to draw"):
        area_svg([shapely.Point(1, 1), shapely.Polygon()], title="Nothing")
