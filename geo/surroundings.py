"""What surrounds a place: the counties (or, for a large area, the states) around it, from the
bundled SAME data. A map of an alert's area draws them beneath it, so that a reader sees the
area among names they know."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import shapely

from geo.same import same_areas, same_geometry

Bounds = tuple[float, float, float, float]  # lon min, lat min, lon max, lat max


@dataclass(frozen=True)
class Region:
    """A county (or county equivalent: a parish, a borough) or a state, and its outline."""

    code: str  # SAME, e.g. "017031" (Cook County) or "017000" (Illinois)
    name: str  # e.g. "Cook", "Illinois"
    state: str  # postal code, e.g. "IL"
    geometry: Any  # lon/lat; a new (Multi)Polygon for each caller, never shared by threads


def states_within(bounds: Bounds) -> list[Region]:
    """The states and territories whose bounding box meets `bounds`, in SAME code order."""
    return [
        Region(f"0{fips}000", name, state, same_geometry(f"0{fips}000"))
        for fips, (state, name, box) in _states().items()
        if _meets(box, bounds)
    ]


def counties_within(bounds: Bounds) -> list[Region]:
    """The land counties whose bounding box meets `bounds`, in SAME code order.

    Marine zones and the part-of-county polygons of the data are left out. The states'
    bounding boxes rule out most states before any of their counties is read.
    """
    found = []
    for fips, (state, _, box) in _states().items():
        if _meets(box, bounds):
            found += [
                Region(code, name, state, same_geometry(code))
                for code, name, county_box in _counties(fips)
                if _meets(county_box, bounds)
            ]
    return found


def _meets(a: Bounds, b: Bounds) -> bool:
    return not (a[0] > b[2] or a[2] < b[0] or a[1] > b[3] or a[3] < b[1])


def _bounds(code: str) -> Bounds:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(same_geometry(code)))
    return (xmin, ymin, xmax, ymax)


@functools.cache
def _states() -> dict[str, tuple[str, str, Bounds]]:
    """Each state's FIPS code ("17"), with its postal code, name and bounding box (0.2 s,
    once)."""
    return {
        area.code[1:3]: (area.state, area.name, _bounds(area.code))
        for area in same_areas()
        if area.kind == "state" and area.state
    }


@functools.cache
def _counties(fips: str) -> tuple[tuple[str, str, Bounds], ...]:
    """A state's counties: code, name and bounding box (Illinois's 102: 0.1 s, once)."""
    return tuple(
        (area.code, area.name, _bounds(area.code))
        for area in same_areas()
        # A leading digit other than 0 is part of a county; no state: a marine zone.
        if area.kind == "county"
        and area.state
        and area.code.startswith("0" + fips)
        and len(area.code) == 6
    )
