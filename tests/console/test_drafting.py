"""The drafting pages: a new alert's form, a draft's form with the approver's note on top,
nothing of another agency's, and a Content-Security-Policy that lets a configured base map's
tiles in on these pages only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from haven.security import PAGE_CSP
from tests.console.support import signed_in_client
from tests.factories import bearer, create_agency, create_officer, draft_body

TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


def page_config(html: str) -> dict[str, Any]:
    """The JSON the page hands its scripts."""
    found = re.search(
        r'<script type="application/json" id="draft-config">(.*?)</script>', html, re.S
    )
    assert found, "the page has no draft-config"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def create(client: FlaskClient, key: str, **overrides: Any) -> dict[str, Any]:
    created = client.post("/api/v1/alerts", json=draft_body(**overrides), headers=bearer(key))
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json  # type: ignore[assignment]
    return body


def returned(client: FlaskClient, officers: dict[str, str], reason: str) -> dict[str, Any]:
    """A draft the approver returned to its drafter with `reason`."""
    alert = create(client, officers["drafter"])
    submitted = client.post(
        f"/api/v1/alerts/{alert['id']}/submit", headers=bearer(officers["drafter"])
    )
    assert submitted.status_code == 200, submitted.json
    back = client.post(
        f"/api/v1/alerts/{alert['id']}/return",
        json={"revision": alert["revision"], "reason": reason},
        headers=bearer(officers["approver"]),
    )
    assert back.status_code == 200, back.json
    body: dict[str, Any] = back.json  # type: ignore[assignment]
    return body


def test_a_new_alert_opens_an_empty_form_with_every_field(
    app: Flask, officers: dict[str, str]
) -> None:
    client, _csrf = signed_in_client(app, officers["drafter"])
    response = client.get("/console/alerts/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for field in (
        'id="place-input"', 'id="circle-zip"', 'id="polygon-text"', 'id="geojson-file"',
        'id="f-contact_phone"', 'id="f-last_seen-at"', 'id="f-vehicle-plate"',
        'id="f-expires"', 'name="status"', 'id="add-suspect"', 'id="add-text"', 'id="map"',
    ):  # fmt: skip
        assert field in html, field
    assert "/static/console/draft/page.js" in html
    assert "/static/vendor/leaflet/leaflet.js" in html
    config = page_config(html)
    assert config["alert"] is None
    assert config["map"] == {"tiles": None, "attribution": None}
    assert response.headers["Content-Security-Policy"] == PAGE_CSP


def test_the_drafting_pages_send_a_signed_out_officer_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/console/alerts/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in?next=/console/alerts/new")


def test_a_draft_opens_in_the_form_with_its_content_and_the_approvers_note(
    app: Flask, officers: dict[str, str]
) -> None:
    client, _csrf = signed_in_client(app, officers["drafter"])
    alert = returned(client, officers, "Add the vehicle's plate, please.")
    response = client.get(f"/console/alerts/{alert['id']}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Returned by the approver" in html
    assert "Add the vehicle&#39;s plate, please." in html
    config = page_config(html)
    assert config["alert"]["id"] == alert["id"]
    assert config["alert"]["revision"] == alert["revision"]
    assert config["alert"]["content"]["children"][0]["name"] == "Jane Doe"


def test_an_alert_past_drafting_goes_to_its_own_page(app: Flask, officers: dict[str, str]) -> None:
    client, csrf = signed_in_client(app, officers["drafter"])
    alert = create(client, officers["drafter"])
    submitted = client.post(f"/api/v1/alerts/{alert['id']}/submit", headers={"X-CSRF-Token": csrf})
    assert submitted.status_code == 200, submitted.json
    response = client.get(f"/console/alerts/{alert['id']}/edit")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/console/alerts/{alert['id']}"


def test_another_agencys_draft_and_an_unknown_one_are_not_found(
    app: Flask, officers: dict[str, str]
) -> None:
    create_agency(app, name="Gary PD")
    other = create_officer(app, agency="Gary PD", name="Other")
    client, _csrf = signed_in_client(app, officers["drafter"])
    theirs = create(app.test_client(), other)
    assert client.get(f"/console/alerts/{theirs['id']}/edit").status_code == 404
    assert client.get("/console/alerts/999999/edit").status_code == 404
    assert client.get("/console/alerts/0/edit").status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"map_tiles_url": TILES}])
def test_a_configured_base_map_may_show_its_tiles_on_the_drafting_page_only(
    app: Flask, officers: dict[str, str]
) -> None:
    client, _csrf = signed_in_client(app, officers["drafter"])
    response = client.get("/console/alerts/new")
    assert page_config(response.get_data(as_text=True))["map"]["tiles"] == TILES
    policy = response.headers["Content-Security-Policy"]
    assert policy == PAGE_CSP + "; img-src 'self' https://tiles.example.org"
    assert client.get("/console/").headers["Content-Security-Policy"] == PAGE_CSP
    assert client.get("/alerts/subscribe").headers["Content-Security-Policy"] == PAGE_CSP
