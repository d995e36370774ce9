"""The inline SVG map of an alert's areas: accessible, self-contained, small, and where expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
from defusedxml import ElementTree as ET

from alerts.svg import FRAME_MARGIN, MIN_FRAME_DEG, area_map, area_svg, map_frame

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


def texts(svg: str) -> list[str]:
    return [element.text or "" for element in ET.fromstring(svg).iter(f"{SVG}text")]


def test_places_are_drawn_beneath_the_area_and_named_where_their_names_fit() -> None:
    area = shapely.box(0.45, 0.45, 0.55, 0.55)
    big = ("Big County", shapely.box(0.3, 0.3, 0.7, 0.7))
    sliver = ("Sliver County With A Long Name", shapely.box(0.7, 0.3, 0.71, 0.7))
    svg = area_svg([area], title="t", frame=map_frame([area]), places=[big, sliver])
    root = ET.fromstring(svg)
    groups = [g.attrib.get("class") for g in root.findall(f"{SVG}g")]
    assert groups == ["area-map-places", None, "area-map-names"]  # borders, area, names
    assert texts(svg) == ["Big County"]  # no room inside the sliver for its name
    assert len(root.find(f"{SVG}g").findall(f"{SVG}path")) == 2  # both borders drawn
    for reference in ("href", "<script", "url(", "<image", "<use"):
        assert reference not in svg


def test_names_never_cover_each_other_and_follow_the_order_given() -> None:
    area = shapely.box(0.45, 0.45, 0.55, 0.55)
    # Two places with the same centre: only the first one's name is placed.
    first = ("First", shapely.box(0.0, 0.0, 1.0, 1.0))
    second = ("Second", shapely.box(0.0, 0.0, 1.0, 1.0))
    svg = area_svg([area], title="t", frame=map_frame([area]), places=[first, second])
    assert texts(svg) == ["First"]


def test_a_border_is_a_places_own_edge_never_the_edge_of_the_map() -> None:
    area = shapely.box(0.45, 0.45, 0.55, 0.55)
    # A place much larger than the map: its edges lie outside, so no border is drawn.
    huge = ("Huge", shapely.box(-50.0, -50.0, 50.0, 50.0))
    drawing = area_map([area], frame=map_frame([area]), places=[huge])
    assert drawing.borders == ()
    assert [label.text for label in drawing.labels] == ["Huge"]


def test_the_frame_shows_the_surroundings_of_a_small_area() -> None:
    small = shapely.box(-87.76, 41.84, -87.74, 41.86)
    xmin, ymin, xmax, ymax = map_frame([small])
    assert ymax - ymin == pytest.approx(MIN_FRAME_DEG)
    assert xmin < -87.76 < -87.74 < xmax
    assert ymin < 41.84 < 41.86 < ymax
    state = shapely.box(-91.5, 37.0, -87.5, 42.5)
    xmin, ymin, xmax, ymax = map_frame([state])
    assert ymax - ymin == pytest.approx(5.5 * (1 + 2 * FRAME_MARGIN))


def test_a_county_alert_is_drawn_among_its_neighbours_with_their_names() -> None:
    from alerts.publish import surroundings
    from geo.same import same_geometry

    cook = same_geometry("017031")
    frame = map_frame([cook])
    places = surroundings([cook], frame)
    assert places[0][0] == "Cook"  # the county the area reaches comes first
    assert "Lake, IN" in [name for name, _ in places]  # another state's county says so
    names = texts(area_svg([cook], title="Cook", frame=frame, places=places))
    assert {"Cook", "DuPage", "Will"} <= set(names)
    state = same_geometry("017000")
    frame = map_frame([state])
    names = texts(area_svg([state], title="IL", frame=frame, places=surroundings([state], frame)))
    assert {"Illinois", "Indiana", "Missouri"} <= set(names)  # a state's map names states
