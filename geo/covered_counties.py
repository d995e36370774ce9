"""The SAME codes of the counties whose land an area covers, from the bundled county boundaries.

EAS targets counties, so a CAP area drawn as a polygon or circle goes out with the SAME codes
of the counties it covers (docs/geo.md, "Counties an area covers"). The bundled boundaries
are generalised: neighbouring counties overlap along their shared lines, so a county counts
only for land of it that the counties already counted do not hold.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.same import same_areas, same_geometry

MIN_COVERED_KM2 = 0.01
"""Land an area must cover in a county, beyond what counties counted before hold, for the
county to count: one hectare (100 m by 100 m). Touching a county's edge covers none."""
MIN_COVERED_SHARE = 0.1
"""For an area covering less land than ten times MIN_COVERED_KM2, a tenth of that land is
enough: a 50 m circle still names the county it lies in."""

KM_PER_DEGREE = math.pi * 6371.0088 / 180.0  # one degree of latitude on the mean sphere
NESTED_SHARE = 0.5
"""A county lying at least this much inside another's polygon is cut out of that polygon."""


@dataclass(frozen=True)
class _Counties:
    """The county index: geometries as WKB (each query parses private copies) and an STRtree
    over their bounding boxes only, so no county geometry object is shared between threads."""

    codes: npt.NDArray[np.str_]
    wkb: npt.NDArray[np.object_]
    bounds: npt.NDArray[np.float64]  # (n, 4): xmin, ymin, xmax, ymax
    tree: shapely.STRtree


def county_codes(area: Any, *, min_km2: float = MIN_COVERED_KM2) -> list[str]:
    """The SAME codes (`0SSCCC`) of the counties whose land `area` covers, in code order.

    `area` is a valid lon/lat (Multi)Polygon. Counties are taken largest covered part first;
    each counts when the area covers more than `min_km2` (or, for a smaller area, a tenth of
    the land it covers) of its land that the counties counted before it do not hold, and a
    county wholly inside the area always counts. Land outside every county (open water,
    marine zones) gives no code. Thread-safe: the area and the county geometries a call
    uses are its own copies.
    """
    if not math.isfinite(min_km2) or min_km2 < 0.0:
        raise ValueError(f"min_km2 must be a non-negative number, not {min_km2}")
    counties = _counties()
    area = shapely.from_wkb(shapely.to_wkb(area))  # a private copy: preparing changes it
    shapely.prepare(area)
    found = np.sort(counties.tree.query(area))  # by bounding box
    geometries = shapely.from_wkb(counties.wkb[found])
    touching = shapely.intersects(area, geometries)
    found, geometries = found[touching], geometries[touching]
    inside = shapely.contains_properly(area, geometries)
    parts = geometries.copy()
    parts[~inside] = shapely.intersection(area, geometries[~inside])
    covered = _km2(parts)
    least = min(min_km2, MIN_COVERED_SHARE * float(covered.sum()))
    bounds = counties.bounds[found]
    counted = np.zeros(len(found), dtype=bool)
    for k in np.lexsort((found, -covered)):  # largest covered part first, then code order
        if covered[k] <= least:
            break  # the rest cover less still
        near = counted & _boxes_meet(bounds, bounds[k])
        if not inside[k] and near.any():
            rest = parts[k]
            for other in geometries[near]:
                rest = shapely.difference(rest, other)
            if _km2(np.array([rest]))[0] <= least:
                continue  # land that the counted counties' polygons hold already
        counted[k] = True
    return sorted(str(code) for code in counties.codes[found[counted]])


def counties_near(area: Any, *, leave_out: Collection[str] = ()) -> list[tuple[str, Any]]:
    """The land counties whose bounding box meets `area`'s, as (SAME code, lon/lat outline),
    in code order, without those in `leave_out` (0SSCCC): candidates for an exact overlay.

    The outlines are those `county_codes` uses (independent cities cut out of the counties
    around them), each a new object the caller owns.
    """
    counties = _counties()
    found = np.sort(counties.tree.query(shapely.envelope(area)))
    if leave_out:
        found = found[~np.isin(counties.codes[found], list(leave_out))]
    geometries = shapely.from_wkb(counties.wkb[found])
    return list(zip(counties.codes[found].tolist(), geometries, strict=True))


def _boxes_meet(
    boxes: npt.NDArray[np.float64], box: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    meet: npt.NDArray[np.bool_] = (
        (boxes[:, 0] <= box[2])
        & (box[0] <= boxes[:, 2])
        & (boxes[:, 1] <= box[3])
        & (box[1] <= boxes[:, 3])
    )
    return meet


def _km2(geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Areas in km², scaled at each geometry's centroid latitude: exact enough to compare
    with a hectare, since a part that small spans next to no latitude."""
    result = np.zeros(len(geometries))
    present = ~shapely.is_empty(geometries)
    if present.any():
        latitude = shapely.get_y(shapely.centroid(geometries[present]))
        scale = np.cos(np.radians(latitude)) * KM_PER_DEGREE**2
        result[present] = shapely.area(geometries[present]) * scale
    return result


@functools.cache
def _counties() -> _Counties:
    """Every county and county equivalent of the bundled data, built on first use (2-5 s).

    Marine zones (no state) and part-of-county codes (a first digit other than 0) are left
    out: EAS targets whole counties, and water belongs to none.
    """
    codes = np.array(
        [
            area.code
            for area in same_areas()
            if area.kind == "county" and area.state is not None and area.code[0] == "0"
        ]
    )
    geometries = np.array([same_geometry(code) for code in codes], dtype=object)
    geometries = _cut_out_nested(geometries)
    bounds = shapely.bounds(geometries)
    return _Counties(
        codes=codes,
        wkb=np.array(shapely.to_wkb(geometries), dtype=object),
        bounds=bounds,
        tree=shapely.STRtree(shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])),
    )


def _cut_out_nested(geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """The counties with every county that lies inside another cut out of the outer one.

    The bundled polygon of a Virginia county covers the independent cities within it (Roanoke
    County holds Salem and Roanoke); real boundaries leave them out, and an area over a city
    must count the city even where it also covers the county around it.
    """
    tree = shapely.STRtree(geometries)
    inner, outer = tree.query(shapely.point_on_surface(geometries), predicate="within")
    holes: dict[int, list[int]] = {}
    for i, j in zip(inner.tolist(), outer.tolist(), strict=True):
        if i == j or shapely.area(geometries[i]) >= shapely.area(geometries[j]):
            continue
        shared = shapely.area(shapely.intersection(geometries[i], geometries[j]))
        if shared >= NESTED_SHARE * shapely.area(geometries[i]):
            holes.setdefault(j, []).append(i)
    result = geometries.copy()
    for j, nested in holes.items():
        result[j] = shapely.difference(geometries[j], shapely.union_all(geometries[nested]))
    return result
