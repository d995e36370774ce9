"""The outlines and names the console's map shows: simplified for display, small enough to
send, and every name an area the API accepts."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import shape

from geo.areas import parse_area
from geo.errors import AreaError
from geo.outlines import county_outlines, county_place, places, state_codes, state_outlines
from geo.same import same_geometry


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def test_the_states_outlines_are_small_enough_to_send_and_keep_their_shape() -> None:
    states = state_outlines()
    assert size(states) < 1_000_000
    assert len(states["features"]) == len(state_codes()) == 59
    illinois = next(f for f in states["features"] if f["properties"]["abbr"] == "IL")
    assert illinois["properties"] == {"name": "Illinois", "abbr": "IL", "same": "017000"}
    drawn, bundled = shape(illinois["geometry"]), same_geometry("017000")
    assert shapely.area(shapely.symmetric_difference(drawn, bundled)) < 0.01 * bundled.area


@pytest.mark.parametrize("abbr", ["TX", "GA", "VA", "AK", "KY"])
def test_each_states_counties_are_small_enough_to_send(abbr: str) -> None:
    counties = county_outlines(abbr.lower())
    assert size(counties) < 500_000
    assert {f["properties"]["state"] for f in counties["features"]} == {abbr}


def test_a_states_counties_carry_their_usual_names_and_codes() -> None:
    counties = {f["properties"]["same"]: f for f in county_outlines("IL")["features"]}
    assert len(counties) == 102
    assert counties["017031"]["properties"] == {
        "name": "Cook County",
        "same": "017031",
        "state": "IL",
    }


def test_an_unknown_state_has_no_counties() -> None:
    with pytest.raises(AreaError, match="'ZZ' is not the postal code"):
        county_outlines("ZZ")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("017031", "Cook County"),
        ("018089", "Lake County"),
        ("022071", "Orleans Parish"),
        ("002020", "Anchorage"),
        ("051770", "City of Roanoke"),
        ("051036", "Charles City County"),
        ("024510", "Baltimore City"),
        ("072001", "Adjuntas"),
    ],
)
def test_a_county_is_named_as_people_name_it(code: str, name: str) -> None:
    assert county_place(code)["name"] == name


def test_every_place_offered_is_an_area_the_api_accepts() -> None:
    offered = places()
    kinds = {place["kind"] for place in offered}
    assert kinds == {"county", "state"}
    assert {"same": "017031", "name": "Cook County", "state": "IL", "kind": "county"} in offered
    assert {"same": "017000", "name": "Illinois", "state": "IL", "kind": "state"} in offered
    assert len({place["same"] for place in offered}) == len(offered)
    for place in offered[::25]:  # a sample of every kind: parsing all takes seconds
        assert parse_area("same", place["same"]).geometry.area > 0
