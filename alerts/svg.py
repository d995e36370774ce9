"""A small inline SVG map of an alert's areas, for the public alert page and officers' screens.

Equirectangular with x scaled by cos(mid-latitude), north up, fitted with padding; simplified
in screen space so that a state-sized area stays a few kilobytes. No scripts, no external
references: only a <title>, one <path> per polygon (holes drawn with fill-rule evenodd) and,
when places are given (the counties around the area), their borders beneath the area and
their names above it, where there is room. The drawing scales to its container's width.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.ops import polylabel

from alerts.cap import xml_safe

SVG_NS = "http://www.w3.org/2000/svg"
PADDING_PX = 8.0
SIMPLIFY_PX = 0.5
_POLYGON = 3  # shapely type id
_LINESTRING = 1
FONT_PX = 11.0  # place names, in the drawing's pixels (it scales with the page)
CHAR_WIDTH = 0.58  # a name's width per character, in ems: generous for a sans-serif
MAX_LABELS = 12
FRAME_MARGIN = 0.35  # around the areas, a share of their extent on each side
MIN_FRAME_DEG = 0.6  # latitude shown at least: a town-sized area still shows its county

Bounds = tuple[float, float, float, float]  # x min, y min, x max, y max
Place = tuple[str, Any]  # a name and its (Multi)Polygon, lon/lat


@dataclass(frozen=True)
class Label:
    """A place's name, centred at x, y (pixels)."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class AreaMap:
    """The drawing of an alert's areas without its title: the costly part of `area_svg`,
    computed once per alert version and drawn with a title in each reader's language."""

    width: int
    height: int
    paths: tuple[str, ...]  # path data, one per polygon
    borders: tuple[str, ...] = ()  # path data of the places' borders, one per place
    labels: tuple[Label, ...] = ()

    @property
    def nbytes(self) -> int:
        """About how much memory it holds."""
        drawn = (*self.paths, *self.borders, *(label.text for label in self.labels))
        return 256 + 64 * len(self.labels) + sum(len(part) for part in drawn)

    def svg(self, *, title: str) -> str:
        """The <svg> element (as text), with `title` for assistive technology."""
        return _svg(self, title)


def area_svg(
    geometries: Sequence[Any],
    *,
    width: int = 320,
    height: int = 240,
    title: str,
    frame: Bounds | None = None,
    places: Sequence[Place] = (),
) -> str:
    """An <svg> element (as text) drawing the (Multi)Polygons, lon/lat, with `title` for AT
    (`frame` and `places`: as `area_map`)."""
    drawing = area_map(geometries, width=width, height=height, frame=frame, places=places)
    return drawing.svg(title=title)


def area_map(
    geometries: Sequence[Any],
    *,
    width: int = 320,
    height: int = 240,
    frame: Bounds | None = None,
    places: Sequence[Place] = (),
) -> AreaMap:
    """The (Multi)Polygons, lon/lat, projected to a width x height map and simplified.

    `frame` is the lon/lat box to show (by default the areas' own bounds; see `map_frame`),
    and `places` are drawn beneath the areas, clipped to what the map shows, and named in the
    order given wherever a name fits inside its place without covering another name.
    """
    if width <= 2 * PADDING_PX or height <= 2 * PADDING_PX:
        raise ValueError(f"a {width}x{height} map leaves no room inside its padding")
    polygons = _polygons(geometries)
    if not len(polygons):
        raise ValueError("there is no area to draw")
    bounds = frame or _total_bounds(polygons)
    project, visible = _projection(bounds, width, height)
    screen = shapely.transform(polygons, project)
    simplified = shapely.simplify(screen, SIMPLIFY_PX, preserve_topology=True)
    paths = (_path_data(polygon) for polygon in simplified)
    borders, labels = _places(places, project, visible, width, height)
    return AreaMap(width, height, tuple(path for path in paths if path), borders, labels)


def map_frame(geometries: Sequence[Any]) -> Bounds:
    """The lon/lat box a map of the areas shows with their surroundings: their bounds widened
    on each side by FRAME_MARGIN of their extent, and to at least MIN_FRAME_DEG of latitude
    (and as much ground east to west)."""
    xmin, ymin, xmax, ymax = _total_bounds(_polygons(geometries))
    kx = max(math.cos(math.radians((ymin + ymax) / 2.0)), 0.05)
    half_y = max((ymax - ymin) * (0.5 + FRAME_MARGIN), MIN_FRAME_DEG / 2.0)
    half_x = max((xmax - xmin) * (0.5 + FRAME_MARGIN), MIN_FRAME_DEG / 2.0 / kx)
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    return (cx - half_x, max(cy - half_y, -90.0), cx + half_x, min(cy + half_y, 90.0))


def _polygons(geometries: Sequence[Any]) -> Any:
    """The non-empty polygons among the geometries' parts."""
    parts = shapely.get_parts(np.asarray(list(geometries), dtype=object))
    polygons = parts[shapely.get_type_id(parts) == _POLYGON] if len(parts) else parts
    return polygons[~shapely.is_empty(polygons)] if len(polygons) else polygons


def _total_bounds(polygons: Any) -> Bounds:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(polygons))
    return (xmin, ymin, xmax, ymax)


def _svg(drawing: AreaMap, title: str) -> str:
    width, height = drawing.width, drawing.height
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,  # plain names, as in alerts/atom.py
            "viewBox": f"0 0 {width} {height}",
            "width": str(width),
            "height": str(height),
            "role": "img",
            "aria-label": xml_safe(title),
            "class": "area-map",
        },
    )
    ET.SubElement(svg, "title").text = xml_safe(title)
    group = ET.SubElement(
        svg,
        "g",
        {
            "fill": "#d32f2f",
            "fill-opacity": "0.25",
            "fill-rule": "evenodd",
            "stroke": "#b71c1c",
            "stroke-width": "1.5",
            "stroke-linejoin": "round",
        },
    )
    if drawing.borders:
        # Beneath the areas: the places' borders, thin and grey.
        beneath = ET.Element(
            "g",
            {
                "class": "area-map-places",
                "fill": "none",
                "stroke": "#7d8c8e",
                "stroke-width": "0.8",
                "stroke-linejoin": "round",
            },
        )
        for border in drawing.borders:
            ET.SubElement(beneath, "path", {"d": border})
        svg.insert(1, beneath)  # after the title
    for path in drawing.paths:
        ET.SubElement(group, "path", {"d": path})
    if drawing.labels:
        # Above the areas, with a light halo so a name stays legible over the red.
        names = ET.SubElement(
            svg,
            "g",
            {
                "class": "area-map-names",
                "font-family": "system-ui, sans-serif",
                "font-size": _number(FONT_PX),
                "text-anchor": "middle",
                "direction": "ltr",
                "fill": "#263238",
                "stroke": "#ffffff",
                "stroke-width": "3",
                "stroke-linejoin": "round",
                "paint-order": "stroke",
            },
        )
        for label in drawing.labels:
            # y is the baseline: a third of an em below the centre centres the letters.
            baseline = label.y + FONT_PX * 0.35
            attributes = {"x": _number(label.x), "y": _number(baseline)}
            ET.SubElement(names, "text", attributes).text = xml_safe(label.text)
    text: str = ET.tostring(svg, encoding="unicode")
    return text


def _number(value: float) -> str:
    """A coordinate to a tenth of a pixel, without trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _projection(frame: Bounds, width: int, height: int) -> tuple[Any, Bounds]:
    """Lon/lat to pixels, fitting `frame` inside the padding (x by cos(mid-latitude), y
    flipped, centred), and the lon/lat box the whole width x height shows."""
    xmin, ymin, xmax, ymax = frame
    kx = math.cos(math.radians((ymin + ymax) / 2.0))
    span_x = max((xmax - xmin) * kx, 1e-12)
    span_y = max(ymax - ymin, 1e-12)
    scale = min((width - 2 * PADDING_PX) / span_x, (height - 2 * PADDING_PX) / span_y)
    left = (width - span_x * scale) / 2.0
    top = (height - span_y * scale) / 2.0

    def project(coords: Any) -> Any:
        x = left + (coords[:, 0] - xmin) * kx * scale
        y = top + (ymax - coords[:, 1]) * scale
        return np.column_stack([x, y])

    visible = (
        xmin - left / (kx * scale),
        ymax - (height - top) / scale,
        xmin + (width - left) / (kx * scale),
        ymax + top / scale,
    )
    return project, visible


def _places(
    places: Sequence[Place], project: Any, visible: Bounds, width: int, height: int
) -> tuple[tuple[str, ...], tuple[Label, ...]]:
    """The places' borders (their boundaries inside the map, never the map's edge) and the
    names that fit, in the order the places are given."""
    borders: list[str] = []
    labels: list[Label] = []
    taken: list[Any] = []  # the boxes of the names placed so far
    for name, geometry in places:
        inside = shapely.clip_by_rect(geometry, *visible)
        if shapely.is_empty(inside):
            continue
        lines = shapely.clip_by_rect(shapely.boundary(geometry), *visible)
        screen_lines = shapely.simplify(shapely.transform(lines, project), SIMPLIFY_PX)
        border = "".join(_line_data(line) for line in shapely.get_parts(screen_lines))
        if border:
            borders.append(border)
        if len(labels) < MAX_LABELS:
            label = _label(name, shapely.transform(inside, project), taken, width, height)
            if label is not None:
                labels.append(label)
    return tuple(borders), tuple(labels)


def _label(name: str, shape: Any, taken: list[Any], width: int, height: int) -> Label | None:
    """Where `name` goes inside `shape` (pixels), or None if it does not fit there, inside
    the map, or clear of the names in `taken` (which it joins)."""
    parts = _polygons([shape])
    if not len(parts):
        return None
    largest = parts[int(np.argmax(shapely.area(parts)))]
    centre = polylabel(largest, tolerance=1.0)
    half_w, half_h = len(name) * CHAR_WIDTH * FONT_PX / 2.0, FONT_PX * 0.6
    box = shapely.box(centre.x - half_w, centre.y - half_h, centre.x + half_w, centre.y + half_h)
    if not shapely.contains(shapely.box(2, 2, width - 2, height - 2), box):
        return None
    if shapely.area(shapely.intersection(box, largest)) < 0.75 * shapely.area(box):
        return None
    if any(shapely.intersects(box, other) for other in taken):
        return None
    taken.append(shapely.buffer(box, 2.0, join_style="mitre"))
    return Label(round(float(centre.x), 1), round(float(centre.y), 1), name)


def _line_data(line: Any) -> str:
    """ "M x y l dx dy ...": a border line in tenths of a pixel (empty if it rounds to a point)."""
    if shapely.get_type_id(line) != _LINESTRING:
        return ""
    coords = np.asarray(shapely.get_coordinates(line), dtype=np.float64)
    tenths = np.rint(coords * 10.0).astype(np.int64)
    if len(tenths):
        keep = np.ones(len(tenths), dtype=bool)
        keep[1:] = np.any(tenths[1:] != tenths[:-1], axis=1)
        tenths = tenths[keep]
    if len(tenths) < 2:
        return ""
    steps = np.diff(tenths, axis=0).ravel().tolist()
    return f"M{_numbers(tenths[0].tolist())}l{_numbers(steps)}"


def _path_data(polygon: Any) -> str:
    """Path data for the shell and each hole; rings that round to fewer than 3 points vanish."""
    shell = _ring_data(shapely.get_exterior_ring(polygon))
    if not shell:
        return ""
    holes = [
        _ring_data(shapely.get_interior_ring(polygon, index))
        for index in range(int(shapely.get_num_interior_rings(polygon)))
    ]
    return "".join([shell, *(hole for hole in holes if hole)])


def _ring_data(ring: Any) -> str:
    """ "M x y l dx dy ... z": absolute start, then relative steps, in tenths of a pixel.

    Steps are taken between already-rounded points (integer tenths), so they never drift.
    """
    coords = np.asarray(shapely.get_coordinates(ring), dtype=np.float64)[:-1]
    tenths = np.rint(coords * 10.0).astype(np.int64)
    if len(tenths):
        tenths = tenths[np.any(tenths != np.roll(tenths, 1, axis=0), axis=1)]
    if len(tenths) < 3:
        return ""
    steps = np.diff(tenths, axis=0).ravel().tolist()
    return f"M{_numbers(tenths[0].tolist())}l{_numbers(steps)}z"


def _numbers(tenths: list[int]) -> str:
    """Numbers in tenths as compact SVG: "12 .5-3.2" (no leading zeros, no space before -)."""
    text = ""
    for value in tenths:
        whole, tenth = divmod(abs(value), 10)
        number = (str(whole) if whole or not tenth else "") + (f".{tenth}" if tenth else "")
        if value < 0:
            number = "-" + number
        text += number if not text or number[0] == "-" else " " + number
    return text
