"""A small inline SVG map of an alert's areas, for the public alert page and officers' screens.

Equirectangular with x scaled by cos(mid-latitude), north up, fitted with padding; simplified
in screen space so that a state-sized area stays a few kilobytes. No scripts, no external
references: only a <title> and one <path> per polygon (holes drawn with fill-rule evenodd).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from alerts.cap import xml_safe

SVG_NS = "http://www.w3.org/2000/svg"
PADDING_PX = 8.0
SIMPLIFY_PX = 0.5
_POLYGON = 3  # shapely type id


@dataclass(frozen=True)
class AreaMap:
    """The drawing of an alert's areas without its title: the costly part of `area_svg`,
    computed once per alert version and drawn with a title in each reader's language."""

    width: int
    height: int
    paths: tuple[str, ...]  # path data, one per polygon

    @property
    def nbytes(self) -> int:
        """About how much memory it holds."""
        return 256 + sum(len(path) for path in self.paths)

    def svg(self, *, title: str) -> str:
        """The <svg> element (as text), with `title` for assistive technology."""
        return _svg(self, title)


def area_svg(geometries: Sequence[Any], *, width: int = 320, height: int = 240, title: str) -> str:
    """An <svg> element (as text) drawing the (Multi)Polygons, lon/lat, with `title` for AT."""
    return area_map(geometries, width=width, height=height).svg(title=title)


def area_map(geometries: Sequence[Any], *, width: int = 320, height: int = 240) -> AreaMap:
    """The (Multi)Polygons, lon/lat, projected to a width x height map and simplified."""
    if width <= 2 * PADDING_PX or height <= 2 * PADDING_PX:
        raise ValueError(f"a {width}x{height} map leaves no room inside its padding")
    parts = shapely.get_parts(np.asarray(list(geometries), dtype=object))
    polygons = parts[shapely.get_type_id(parts) == _POLYGON] if len(parts) else parts
    polygons = polygons[~shapely.is_empty(polygons)] if len(polygons) else polygons
    if not len(polygons):
        raise ValueError("there is no area to draw")
    screen = _to_screen(polygons, width, height)
    simplified = shapely.simplify(screen, SIMPLIFY_PX, preserve_topology=True)
    paths = (_path_data(polygon) for polygon in simplified)
    return AreaMap(width, height, tuple(path for path in paths if path))


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
    for path in drawing.paths:
        ET.SubElement(group, "path", {"d": path})
    text: str = ET.tostring(svg, encoding="unicode")
    return text


def _to_screen(polygons: Any, width: int, height: int) -> Any:
    """Project lon/lat to pixels: x by cos(mid-latitude), y flipped, centred in the padding."""
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(polygons))
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

    return shapely.transform(polygons, project)


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
