"""The console's alert page: another agency's alert is a 404 page; approval is offered only to
an approver who wrote none of a pending alert; a returned draft shows the approver's note;
the update preview renders the update message without storing anything."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from tests.console.support import signed_in_client
from tests.console.test_home import ALERTS, drafted
from tests.factories import bearer, create_agency, create_officer


def page_data(page: str) -> dict[str, Any]:
    """The JSON the page hands its scripts."""
    found = re.search(r'<script type="application/json" id="alert-data">(.*?)</script>', page, re.S)
    assert found, "the page has no data for its scripts"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_another_agencys_alert_is_a_not_found_page(app: Flask, officers: dict[str, str]) -> None:
    create_agency(app, "Springfield PD")
    other = create_officer(app, "Springfield PD", name="Elsewhere")
    theirs = drafted(app.test_client(), other, "Olga Other-Agency", submit=True)
    client, _csrf = signed_in_client(app, officers["approver"])
    response = client.get(f"/console/alerts/{theirs['id']}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "No such alert" in page
    assert "Olga" not in page
    missing = client.get("/console/alerts/999999")
    assert missing.status_code == 404
    assert "No such alert" in missing.get_data(as_text=True)


def test_an_approver_is_offered_approval_of_a_colleagues_pending_alert_at_its_revision(
    app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe", submit=True)
    client, _csrf = signed_in_client(app, officers["approver"])
    response = client.get(f"/console/alerts/{alert['id']}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="approve-form"' in page
    assert f"Approve revision {alert['revision']} and send" in page
    assert 'id="return-form"' in page
    assert 'id="reject-form"' in page
    data = page_data(page)
    assert data["can_approve"] is True
    assert data["alert"]["revision"] == alert["revision"]
    assert data["areas"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "<li>Cook County, IL</li>" in page


def test_the_console_never_offers_approval_of_ones_own_alert(
    app: Flask, officers: dict[str, str]
) -> None:
    own = drafted(app.test_client(), officers["approver"], "Anna Own", submit=True)
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get(f"/console/alerts/{own['id']}").get_data(as_text=True)
    assert 'id="approve-form"' not in page
    assert 'id="reject-form"' not in page
    assert page_data(page)["can_approve"] is False
    assert "never the one who wrote it" in page


def test_a_drafter_is_never_offered_approval(app: Flask, officers: dict[str, str]) -> None:
    alert = drafted(app.test_client(), officers["approver"], "Anna Own", submit=True)
    client, _csrf = signed_in_client(app, officers["drafter"])
    page = client.get(f"/console/alerts/{alert['id']}").get_data(as_text=True)
    assert 'id="approve-form"' not in page


def test_a_returned_draft_shows_the_approvers_note_and_a_link_to_edit_it(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Rita Returned", submit=True)
    returned = api.post(
        f"{ALERTS}/{alert['id']}/return",
        json={"revision": alert["revision"], "reason": "Name the direction of travel."},
        headers=bearer(officers["approver"]),
    )
    assert returned.status_code == 200, returned.json
    client, _csrf = signed_in_client(app, officers["drafter"])
    page = client.get(f"/console/alerts/{alert['id']}").get_data(as_text=True)
    assert "Returned to draft" in page
    assert '<q class="review-note">Name the direction of travel.</q>' in page
    assert f'href="/console/alerts/{alert["id"]}/edit"' in page


def test_the_update_preview_renders_the_update_message_and_stores_nothing(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe", submit=True)
    approved = api.post(
        f"{ALERTS}/{alert['id']}/approve",
        json={"revision": alert["revision"]},
        headers=bearer(officers["approver"]),
    )
    assert approved.status_code == 200, approved.json
    client, csrf = signed_in_client(app, officers["drafter"])
    url = f"/console/alerts/{alert['id']}/update-preview?language=en&language=es"
    changes = {"last_seen": {"place": "Navy Pier", "direction": "north on Lake Shore Drive"}}
    refused = client.post(url, json=changes)
    assert refused.status_code == 403  # no CSRF token
    response = client.post(url, json=changes, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.json
    messages = response.json["messages"]
    assert [m["language"] for m in messages] == ["en", "es"]
    assert "Navy Pier" in messages[0]["sms"]
    assert messages[0]["segments"] >= 1
    assert messages[0]["encoding"] in ("GSM-7", "UCS-2")
    assert messages[0]["characters"] == len(messages[0]["sms"])
    bad = client.post(url, json={"contact_phone": None}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422
    assert "contact_phone" in bad.json["error"]["message"]
    stored = api.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"])).json
    assert stored["revision"] == approved.json["revision"]
    assert stored["content"]["last_seen"]["place"] == "Millennium Park, Chicago"


@pytest.mark.parametrize("settings_overrides", [{"two_person_rule": False}])
def test_without_the_two_person_rule_the_console_offers_approval_of_ones_own_alert_as_the_api(
    app: Flask, officers: dict[str, str]
) -> None:
    own = drafted(app.test_client(), officers["approver"], "Anna Own", submit=True)
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get(f"/console/alerts/{own['id']}").get_data(as_text=True)
    assert page_data(page)["can_approve"] is True
    assert 'id="approve-form"' in page
    assert "never the one who wrote it" not in page


def test_the_update_preview_removes_a_field_set_to_null_as_the_update_does(
    app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe")
    client, csrf = signed_in_client(app, officers["drafter"])
    url = f"/console/alerts/{alert['id']}/update-preview?language=en"
    kept = client.post(url, json={"contact_phone": "+18005550000"}, headers={"X-CSRF-Token": csrf})
    assert kept.status_code == 200, kept.json
    assert "ABC1234" in kept.json["messages"][0]["sms"]
    removed = client.post(url, json={"vehicle": None}, headers={"X-CSRF-Token": csrf})
    assert removed.status_code == 200, removed.json
    assert "ABC1234" not in removed.json["messages"][0]["sms"]


def test_the_update_preview_of_a_cancelled_alert_is_refused_as_its_update_would_be(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe")
    cancelled = api.post(
        f"{ALERTS}/{alert['id']}/cancel",
        json={"reason": "child_found"},
        headers=bearer(officers["drafter"]),
    )
    assert cancelled.status_code == 200, cancelled.json
    client, csrf = signed_in_client(app, officers["drafter"])
    response = client.post(
        f"/console/alerts/{alert['id']}/update-preview",
        json={"texts": {"en": "Found safe."}},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "alert_cancelled"


def test_the_update_preview_of_a_stale_revision_is_refused_as_its_update_would_be(
    app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe")
    client, csrf = signed_in_client(app, officers["drafter"])
    response = client.post(
        f"/console/alerts/{alert['id']}/update-preview",
        json={"texts": {"en": "Found safe."}, "revision": alert["revision"] + 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "stale_revision"


def test_the_update_preview_answers_401_json_when_nobody_is_signed_in(
    app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe")
    response = app.test_client().post(
        f"/console/alerts/{alert['id']}/update-preview", json={"texts": {"en": "Found safe."}}
    )
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == "unauthorized"
    assert "session has ended" in response.json["error"]["message"]
