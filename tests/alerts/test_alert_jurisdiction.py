"""An alert area may reach over water, but not onto other jurisdictions' land: the 422 names
the counties it reaches into and gives that part and the area clipped to the jurisdiction."""

from __future__ import annotations

import re
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from geo.areas import parse_cap_polygon
from tests.alerts.test_alerts_api import act, approve
from tests.alerts.test_cap import assert_valid_cap_and_ipaws
from tests.factories import COOK_COUNTY, ILLINOIS, bearer, create_agency, create_officer, draft_body

ALERTS = "/api/v1/alerts"
LAKE_IN = {"name": "Lake County", "state": "IN", "same": "018089"}


@pytest.fixture
def agencies(app: Flask) -> dict[str, str]:
    """An officer of a Cook County agency and one of an Illinois agency: their API keys."""
    create_agency(app, "Cook Sheriff", COOK_COUNTY)
    create_agency(app, "Illinois State Police", ILLINOIS)
    return {
        COOK_COUNTY: create_officer(app, "Cook Sheriff", "Cook"),
        ILLINOIS: create_officer(app, "Illinois State Police", "State"),
    }


def draft(client: FlaskClient, key: str, *areas: dict[str, Any]) -> Any:
    return client.post(ALERTS, json=draft_body(areas=list(areas)), headers=bearer(key))


@pytest.mark.parametrize("jurisdiction", [COOK_COUNTY, ILLINOIS])
@pytest.mark.parametrize("radius_km", [10, 8, 5, 4])
def test_a_circle_around_downtown_chicago_is_accepted_though_it_reaches_over_the_lake(
    client: FlaskClient, agencies: dict[str, str], jurisdiction: str, radius_km: int
) -> None:
    created = draft(client, agencies[jurisdiction], {"circle": f"41.8781,-87.6298 {radius_km}"})
    assert created.status_code == 201, created.json


@pytest.mark.parametrize("jurisdiction", [COOK_COUNTY, ILLINOIS])
def test_an_area_reaching_onto_indiana_land_is_refused_naming_the_county_with_a_fix(
    client: FlaskClient, agencies: dict[str, str], jurisdiction: str
) -> None:
    key = agencies[jurisdiction]
    refused = draft(client, key, {"same": COOK_COUNTY}, {"circle": "41.70,-87.56 8"})
    assert refused.status_code == 422
    error = refused.json["error"]
    assert error["code"] == "outside_jurisdiction"
    assert re.match(
        r"areas\.1: about [67]\.\d km² of this area lies on the land of Lake County, IN, "
        r"outside .*'s jurisdiction near 41\.6\d\d,-87\.4\d\d \(tolerance 2 km\)\.$",
        error["message"],
    ), error["message"]
    details = error["details"]
    assert details["area"] == 1
    assert details["counties"] == [LAKE_IN]
    assert details["outside"]["type"] in {"Polygon", "MultiPolygon"}
    assert details["clipped"]["type"] in {"Polygon", "MultiPolygon"}
    fixed = draft(client, key, {"same": COOK_COUNTY}, {"geojson": details["clipped"]})
    assert fixed.status_code == 201, fixed.json


def test_a_sliver_beyond_the_tolerance_is_refused_in_honest_words(
    client: FlaskClient, agencies: dict[str, str]
) -> None:
    refused = draft(client, agencies[COOK_COUNTY], {"circle": "41.6,-87.56 5.05"})
    assert refused.status_code == 422
    message = refused.json["error"]["message"]
    assert "less than 0.1 km² of this area lies on the land of Lake County, IN" in message
    assert "0.0 km²" not in message
    assert "(tolerance 2 km)" in message


def test_an_area_wholly_in_another_state_has_nothing_to_clip_to(
    client: FlaskClient, agencies: dict[str, str]
) -> None:
    refused = draft(client, agencies[COOK_COUNTY], {"circle": "41.5934,-87.3464 3"})
    details = refused.json["error"]["details"]
    assert details["counties"] == [LAKE_IN]
    assert details["clipped"] is None


def test_swapped_geojson_is_refused_with_a_hint(
    client: FlaskClient, agencies: dict[str, str]
) -> None:
    ring = [[41.7, -87.9], [41.7, -87.6], [42.0, -87.6], [42.0, -87.9], [41.7, -87.9]]
    refused = draft(
        client, agencies[COOK_COUNTY], {"geojson": {"type": "Polygon", "coordinates": [ring]}}
    )
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "invalid_area"
    assert "coordinates look swapped" in refused.json["error"]["message"]
    honest = [[lon, lat] for lat, lon in ring]
    accepted = draft(
        client, agencies[COOK_COUNTY], {"geojson": {"type": "Polygon", "coordinates": [honest]}}
    )
    assert accepted.status_code == 201, accepted.json


def test_an_area_reaching_into_several_counties_names_each(
    client: FlaskClient, agencies: dict[str, str]
) -> None:
    refused = draft(client, agencies[COOK_COUNTY], {"circle": "41.8781,-87.6298 30"})
    error = refused.json["error"]
    assert "on the land of DuPage County, IL and Lake County, IN, outside" in error["message"]
    assert [county["same"] for county in error["details"]["counties"]] == ["017043", "018089"]


# An area must reach the jurisdiction: water far from it, or Canada, is no agency's to alert.

OFFSHORE = "41.8781,-87.565"  # over the lake, 3.0 km from Cook County's shore at its nearest


@pytest.mark.parametrize("jurisdiction", [COOK_COUNTY, ILLINOIS])
@pytest.mark.parametrize(
    "circle",
    ["42.0,-87.3 10", "43.6532,-79.3832 10"],  # mid-lake, 16 km offshore; Toronto
)
def test_an_area_that_does_not_reach_the_jurisdiction_is_refused_with_nothing_to_clip(
    client: FlaskClient, agencies: dict[str, str], jurisdiction: str, circle: str
) -> None:
    refused = draft(client, agencies[jurisdiction], {"same": COOK_COUNTY}, {"circle": circle})
    assert refused.status_code == 422
    error = refused.json["error"]
    assert error["code"] == "outside_jurisdiction"
    assert re.match(
        r"areas\.1: this area does not reach (Cook Sheriff|Illinois State Police)'s "
        r"jurisdiction: at its nearest it is about [\d,.]+ km from it, "
        r"near 4\d\.\d{3},-[78]\d\.\d{3} \(tolerance 2 km\)\.$",
        error["message"],
    ), error["message"]
    details = error["details"]
    assert details["area"] == 1
    assert details["counties"] == []
    assert details["outside"]["type"] == "Polygon"
    assert details["clipped"] is None


@pytest.mark.parametrize(
    ("radius_km", "accepted"),
    [(3.1, True), (1.5, True), (0.8, False)],  # reaching the shore; 1.5 km short; 2.2 km short
)
def test_a_circle_over_the_lake_is_accepted_when_it_comes_within_the_tolerance(
    client: FlaskClient, agencies: dict[str, str], radius_km: float, accepted: bool
) -> None:
    response = draft(client, agencies[COOK_COUNTY], {"circle": f"{OFFSHORE} {radius_km}"})
    if accepted:
        assert response.status_code == 201, response.json
    else:
        assert response.status_code == 422
        assert "about 2.2 km from it" in response.json["error"]["message"]


def square(lon: float, lat: float, size: float) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def test_a_part_that_does_not_reach_the_jurisdiction_is_refused_and_the_rest_offered(
    client: FlaskClient, agencies: dict[str, str]
) -> None:
    key = agencies[COOK_COUNTY]
    parts = [[square(-87.75, 41.85, 0.05)], [square(-87.3, 42.0, 0.05)]]  # West Side; lake
    refused = draft(client, key, {"geojson": {"type": "MultiPolygon", "coordinates": parts}})
    assert refused.status_code == 422
    error = refused.json["error"]
    assert re.match(
        r"areas\.0: part of this area does not reach Cook Sheriff's jurisdiction: about "
        r"\d\d\.\d km² of it, near 42\.0\d\d,-87\.2\d\d, is about 2\d\.\d km from it at its "
        r"nearest \(tolerance 2 km\)\.$",
        error["message"],
    ), error["message"]
    details = error["details"]
    assert details["counties"] == []
    assert details["outside"] == {
        "type": "Polygon",
        "coordinates": parts[1],
    }
    assert details["clipped"] == {
        "type": "Polygon",
        "coordinates": parts[0],
    }
    fixed = draft(client, key, {"geojson": details["clipped"]})
    assert fixed.status_code == 201, fixed.json


# CAP cannot express holes: an area with one goes out as hole-free pieces of exactly the area.

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_an_approved_alert_with_a_holed_area_publishes_cap_of_exactly_that_area(
    app: Flask, client: FlaskClient, agencies: dict[str, str]
) -> None:
    approver = create_officer(app, "Cook Sheriff", "Approver", approver=True)
    shell, hole = square(-87.75, 41.84, 0.08), square(-87.72, 41.87, 0.02)
    holed = {"type": "Polygon", "coordinates": [shell, hole[::-1]]}
    alert = draft(client, agencies[COOK_COUNTY], {"geojson": holed}).json
    send = act(client, agencies[COOK_COUNTY], alert["id"], "submit")
    assert send.status_code == 200, send.json
    approved = approve(client, approver, alert)
    assert approved.status_code == 200, approved.json
    document = client.get(f"/alerts/{alert['id']}.cap")
    assert document.status_code == 200
    assert_valid_cap_and_ipaws(document.data)
    area = shapely.Polygon(shell, [hole])
    for info in etree.fromstring(document.data).findall(f"{CAP}info"):
        (cap_area,) = info.findall(f"{CAP}area")
        texts = [polygon.text or "" for polygon in cap_area.findall(f"{CAP}polygon")]
        assert len(texts) > 1
        pieces = [parse_cap_polygon(text) for text in texts]
        union = shapely.union_all(pieces)
        assert shapely.area(shapely.symmetric_difference(union, area)) < 1e-12
        assert not any(shapely.intersects_xy(piece, -87.71, 41.88) for piece in pieces)
        codes = [g.findtext(f"{CAP}value") for g in cap_area.findall(f"{CAP}geocode")]
        assert codes == [COOK_COUNTY]
