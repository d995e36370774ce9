"""The bundled state and county outlines for a map, simplified for display, and the names an
officer searches: counties and states by SAME code, with their usual labels ("Cook County").

For display only: the jurisdiction check and the counties an area covers use the bundled
outlines unsimplified (geo/jurisdiction.py, geo/covered_counties.py).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import mapping

from geo.errors import AreaError
from geo.same import SameArea, lookup_same, same_areas, same_geometry

STATE_TOLERANCE_DEG = 0.005
"""Douglas-Peucker tolerance for the states' outlines (about 500 m): all 59 in about 100 KB."""
COUNTY_TOLERANCE_DEG = 0.002
"""For one state's counties (about 200 m): Texas's 254, the largest, in about 280 KB."""
DECIMALS = 5
"""Coordinates are rounded to 1e-5 degrees (about 1 m), far below the simplification."""

_NO_COUNTY_WORD = frozenset({"AK", "DC"})  # boroughs and census areas; the District itself


class Place(TypedDict):
    """A county or state an officer may choose by name: its SAME code is the API's area."""

    same: str
    name: str
    state: str
    kind: Literal["county", "state"]


class CountyName(TypedDict):
    """A county as an error or a map names it."""

    name: str
    state: str
    same: str


def county_label(area: SameArea) -> str:
    """A county's usual name: "Cook County", "Orleans Parish", "City of Roanoke", "Anchorage".

    The bundled data holds the bare name. Louisiana has parishes; Alaska's boroughs and census
    areas, the District and the territories' districts and municipios keep the bare name, and
    so do the independent cities (county part 500 and up, named "... City" or "City of ...").
    """
    name, state = area.name, area.state or ""
    if state == "LA":
        return f"{name} Parish"
    if state in _NO_COUNTY_WORD or int(area.code[1:3]) >= 60:
        return name
    independent = int(area.code[3:]) >= 500
    if name.startswith("City of") or (independent and name.endswith(" City")):
        return name
    return f"{name} County"


def county_place(code: str) -> CountyName:
    """The label, state and SAME code of a county; AreaError if the code is unknown."""
    area = lookup_same(code)
    return {"name": county_label(area), "state": area.state or "", "same": area.code}


def places() -> list[Place]:
    """Every land county and every state or territory of the bundled data, in SAME code order:
    what a typeahead offers. Marine zones and part-of-county codes are left out."""
    found: list[Place] = []
    for area in same_areas():
        if area.state is None or area.code[0] != "0":
            continue
        if area.kind == "state":
            found.append(
                {"same": area.code, "name": area.name, "state": area.state, "kind": "state"}
            )
        else:
            label = county_label(area)
            found.append({"same": area.code, "name": label, "state": area.state, "kind": "county"})
    return found


def state_codes() -> dict[str, str]:
    """Each state's or territory's postal code ("IL") and its SAME code ("017000")."""
    return {
        area.state: area.code
        for area in same_areas()
        if area.kind == "state" and area.state is not None
    }


def state_outlines() -> dict[str, Any]:
    """A GeoJSON FeatureCollection of every state and territory, simplified for display,
    properties {"name", "abbr", "same"}."""
    features = [
        _feature(
            area.code,
            STATE_TOLERANCE_DEG,
            {"name": area.name, "abbr": area.state, "same": area.code},
        )
        for area in same_areas()
        if area.kind == "state" and area.state is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def county_outlines(abbr: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of one state's counties, simplified for display,
    properties {"name", "same", "state"}; AreaError for an unknown postal code."""
    state = abbr.upper()
    if state not in state_codes():
        raise AreaError(f"{abbr!r} is not the postal code of a state or territory")
    features = [
        _feature(area.code, COUNTY_TOLERANCE_DEG, {**county_place(area.code)})
        for area in same_areas()
        if area.kind == "county" and area.state == state and area.code[0] == "0"
    ]
    return {"type": "FeatureCollection", "features": features}


def simplified(geometry: Any, tolerance_deg: float) -> Any:
    """`geometry` simplified (topology kept: no part vanishes or crosses itself) and its
    coordinates rounded to DECIMALS places, for display."""

    def rounded(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.round(xy, DECIMALS)

    return shapely.transform(
        shapely.simplify(geometry, tolerance_deg, preserve_topology=True), rounded
    )


def _feature(code: str, tolerance_deg: float, properties: dict[str, Any]) -> dict[str, Any]:
    geometry = simplified(same_geometry(code), tolerance_deg)
    return {"type": "Feature", "properties": properties, "geometry": mapping(geometry)}
