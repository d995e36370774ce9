"""The console's map data: outlines, names and ZIP code centres, for signed-in officers only,
each computed once and revalidated by ETag."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.console.support import signed_in_client

PATHS = [
    "/console/geo/states.json",
    "/console/geo/counties/IL.json",
    "/console/geo/places.json",
    "/console/geo/zip/60602.json",
]


@pytest.mark.parametrize("path", PATHS)
def test_map_data_answers_anyone_not_signed_in_with_a_401_json_error(app: Flask, path: str) -> None:
    # The console's scripts fetch these: a redirect to the sign-in page would reach them as
    # an HTML page with status 200.
    answer = app.test_client().get(path)
    assert answer.status_code == 401
    assert answer.mimetype == "application/json"
    assert answer.json is not None
    assert answer.json["error"]["code"] == "unauthorized"
    assert "session has ended" in answer.json["error"]["message"]


def test_a_signed_in_officer_gets_the_state_outlines(app: Flask, officers: dict[str, str]) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    answer = client.get("/console/geo/states.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.json["type"] == "FeatureCollection"
    names = {f["properties"]["abbr"]: f["properties"] for f in answer.json["features"]}
    assert names["IL"] == {"name": "Illinois", "abbr": "IL", "same": "017000"}
    assert "private" in answer.headers["Cache-Control"]
    assert answer.headers["ETag"]


def test_outlines_a_browser_has_are_not_sent_again(app: Flask, officers: dict[str, str]) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    first = client.get("/console/geo/counties/il.json")
    assert first.status_code == 200
    again = client.get(
        "/console/geo/counties/IL.json", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.data == b""


def test_a_states_counties_are_named_with_their_codes(app: Flask, officers: dict[str, str]) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    features = client.get("/console/geo/counties/IL.json").json["features"]
    cook = next(f for f in features if f["properties"]["same"] == "017031")
    assert cook["properties"] == {"name": "Cook County", "same": "017031", "state": "IL"}
    assert cook["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_places_offer_counties_and_whole_states(app: Flask, officers: dict[str, str]) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    places = client.get("/console/geo/places.json").json
    assert {"same": "017031", "name": "Cook County", "state": "IL", "kind": "county"} in places
    assert {"same": "017000", "name": "Illinois", "state": "IL", "kind": "state"} in places


def test_a_zip_code_gives_its_centre_and_place(app: Flask, officers: dict[str, str]) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    answer = client.get("/console/geo/zip/60602.json")
    assert answer.status_code == 200
    assert answer.json == {"zip": "60602", "lat": 41.8829, "lon": -87.6321, "place": "Chicago, IL"}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/console/geo/zip/00000.json", 404, "ZIP code 00000 is not a known"),
        ("/console/geo/zip/6060.json", 422, "'6060' is not a US ZIP code"),
        ("/console/geo/zip/abcde.json", 422, "'abcde' is not a US ZIP code"),
        ("/console/geo/counties/ZZ.json", 404, "postal code 'ZZ'"),
    ],
)
def test_unknown_places_get_a_clear_json_error(
    app: Flask, officers: dict[str, str], path: str, status: int, says: str
) -> None:
    client, _ = signed_in_client(app, officers["drafter"])
    answer = client.get(path)
    assert answer.status_code == status
    assert says in answer.json["error"]["message"]
