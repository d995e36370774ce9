"""Officers draft, preview, approve, update and cancel alerts; bad input changes nothing."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from alerts.models import Alert, AuditEntry
from haven.db import get_session
from tests.factories import (
    bearer,
    create_agency,
    create_officer,
    create_subscribers,
    draft_body,
)

ALERTS = "/api/v1/alerts"
LOOP = (41.8781, -87.6298)  # downtown Chicago, Cook County
SPRINGFIELD = (39.7817, -89.6501)  # Illinois, outside Cook County
GARY = (41.5934, -87.3464)  # Indiana


@pytest.fixture
def officers(app: Flask) -> dict[str, str]:
    create_agency(app)
    create_agency(app, "Springfield PD")
    return {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
        "lone_approver": create_officer(app, name="Lone", approver=True),
        "stranger": create_officer(app, "Springfield PD", "Stranger", approver=True),
    }


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model)) or 0


def draft(client: FlaskClient, key: str, **overrides: Any) -> dict[str, Any]:
    response = client.post(ALERTS, json=draft_body(**overrides), headers=bearer(key))
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def act(client: FlaskClient, key: str, alert_id: int, action: str, body: Any = None) -> Any:
    return client.post(f"{ALERTS}/{alert_id}/{action}", json=body, headers=bearer(key))


def send(client: FlaskClient, officers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    alert = draft(client, officers["drafter"], **overrides)
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    approved = act(client, officers["approver"], alert["id"], "approve")
    assert approved.status_code == 200, approved.json
    body: dict[str, Any] = approved.json
    return body


def test_a_draft_is_stored_with_its_content(client: FlaskClient, officers: dict[str, str]) -> None:
    alert = draft(client, officers["drafter"])
    assert alert["state"] == "draft"
    assert alert["version"] == 0
    assert alert["content"]["vehicle"]["plate"] == "ABC1234"
    fetched = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"]))
    assert fetched.json == alert


def in_hours(hours: float) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"areas": [{"polygon": "41.7,-87.9 42.0,-87.9 42.0,-87.6"}]}, "areas.0.polygon"),
        ({"areas": [{"polygon": "41.7,-87.9 42.0,-87.9 42.0,-87.6 41.8,-87.6"}]}, "closed"),
        (
            {"areas": [{"polygon": "41.7,-87.9 42.0,-87.6 42.0,-87.9 41.7,-87.6 41.7,-87.9"}]},
            "areas.0.polygon",
        ),
        ({"areas": [{"polygon": "41.7,-87.9 95.0,-87.9 42.0,-87.6 41.7,-87.9"}]}, "latitude"),
        ({"areas": [{"same": "017999"}]}, "017999"),
        ({"areas": [{"circle": "41.8,-87.6 0"}]}, "areas.0.circle"),
        ({"areas": []}, "areas"),
        ({"areas": [{"same": "017031", "circle": "41.8,-87.6 5"}]}, "exactly one"),
        ({"areas": [{"same": "018089"}]}, "outside Chicago PD's jurisdiction"),
        ({"expires": in_hours(-1)}, "future"),
        ({"expires": in_hours(25)}, "at most 24 hours"),
        ({"expires": "2026-11-22T18:00:00"}, "expires"),
        ({"children": []}, "children"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"texts": {"xx": "hello"}}, "unsupported language"),
        ({"vehicle": {"plate": "ABC1234", "plate_state": "ZZ"}}, "plate_state"),
        ({"status": "Real"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_draft_is_refused_naming_the_problem_and_nothing_is_stored(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    overrides: dict[str, Any],
    says: str,
) -> None:
    response = client.post(
        ALERTS, json=draft_body(**overrides), headers=bearer(officers["drafter"])
    )
    assert response.status_code == 422, response.json
    assert says in response.json["error"]["message"]
    assert count(app, Alert) == 0


@pytest.mark.parametrize("missing", ["status", "expires", "areas", "children", "contact_phone"])
def test_each_required_key_is_required(
    client: FlaskClient, officers: dict[str, str], missing: str
) -> None:
    body = draft_body()
    del body[missing]
    response = client.post(ALERTS, json=body, headers=bearer(officers["drafter"]))
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith(missing)


def test_malformed_json_is_refused(client: FlaskClient, officers: dict[str, str]) -> None:
    response = client.post(
        ALERTS, data="{", content_type="application/json", headers=bearer(officers["drafter"])
    )
    assert response.status_code == 400


def test_the_audience_counts_exactly_who_is_inside_each_area(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    create_subscribers(
        app,
        [
            ("+13125550101", *LOOP),
            ("+13125550102", *LOOP),
            ("+13125550102", *SPRINGFIELD),  # one subscriber, two places
            ("+12175550103", *SPRINGFIELD),
            ("+12195550104", *GARY),
            ("+16305550105", 41.70, -87.95),  # DuPage County, on a vertex of the polygon below
        ],
    )
    alert = draft(
        client,
        officers["drafter"],
        areas=[
            {"same": "017031"},
            {"polygon": "41.70,-87.95 42.00,-87.95 42.00,-87.70 41.70,-87.95"},
        ],
    )
    response = act(client, officers["drafter"], alert["id"], "audience")
    assert response.status_code == 200
    assert response.json == {
        "subscribers": 3,
        "locations": 3,
        "areas": [{"subscribers": 2, "locations": 2}, {"subscribers": 1, "locations": 1}],
    }


def test_new_subscribers_are_counted_without_a_rebuild(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    assert act(client, officers["drafter"], alert["id"], "audience").json["subscribers"] == 0
    create_subscribers(app, [("+13125550199", *LOOP)])
    assert act(client, officers["drafter"], alert["id"], "audience").json["subscribers"] == 1


def test_an_approved_alert_goes_out_with_its_audience_recorded(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    create_subscribers(app, [("+13125550101", *LOOP), ("+12175550103", *SPRINGFIELD)])
    alert = send(client, officers)
    assert alert["state"] == "active"
    assert alert["version"] == 1
    assert alert["msg_type"] == "Alert"
    assert alert["audience"]["subscribers"] == 1


def test_nobody_approves_their_own_alert(client: FlaskClient, officers: dict[str, str]) -> None:
    alert = draft(client, officers["lone_approver"])
    act(client, officers["lone_approver"], alert["id"], "submit")
    response = act(client, officers["lone_approver"], alert["id"], "approve")
    assert response.status_code == 403
    assert "two-person rule" in response.json["error"]["message"]


@pytest.mark.parametrize("settings_overrides", [{"two_person_rule": False}])
def test_training_can_switch_the_two_person_rule_off(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["lone_approver"])
    act(client, officers["lone_approver"], alert["id"], "submit")
    assert act(client, officers["lone_approver"], alert["id"], "approve").status_code == 200


def test_only_approvers_approve(client: FlaskClient, officers: dict[str, str]) -> None:
    alert = draft(client, officers["approver"])
    act(client, officers["approver"], alert["id"], "submit")
    response = act(client, officers["drafter"], alert["id"], "approve")
    assert response.status_code == 403


def test_another_agency_cannot_see_or_act_on_an_alert(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    stranger = officers["stranger"]
    assert client.get(f"{ALERTS}/{alert['id']}", headers=bearer(stranger)).status_code == 403
    for action in ("submit", "approve", "audience", "cancel"):
        assert act(client, stranger, alert["id"], action, {"reason": "other"}).status_code == 403


def test_an_update_makes_a_new_version_and_a_cancel_ends_it(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    updated = act(
        client,
        officers["drafter"],
        alert["id"],
        "update",
        {"texts": {"en": "Seen heading north on I-94."}},
    )
    assert updated.status_code == 200, updated.json
    assert (updated.json["version"], updated.json["msg_type"]) == (2, "Update")
    assert updated.json["content"]["texts"] == {
        "en": "Seen heading north on I-94.",
        "es": "Llame al 911 con cualquier información.",  # texts merge per language
    }
    cancelled = act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    assert cancelled.status_code == 200
    assert (cancelled.json["state"], cancelled.json["msg_type"]) == ("cancelled", "Cancel")
    assert cancelled.json["cancel_reason"] == "child_found"


def test_a_cancelled_alert_cannot_be_edited(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "other"})
    response = act(client, officers["drafter"], alert["id"], "update", {"texts": {"en": "x"}})
    assert response.status_code == 409
    assert "cancelled" in response.json["error"]["message"]
    assert (
        client.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"])).json["version"]
        == 2
    )


def test_an_expired_alert_ends_by_itself_and_cannot_be_edited(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    from alerts.service import expire_alerts

    alert = send(client, officers)
    with app.app_context():
        session = get_session()
        session.execute(
            text("UPDATE alert SET expires = :past"),
            {"past": datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)},
        )
        session.commit()
        assert expire_alerts(session=session) == 1
    fetched = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"]))
    assert fetched.json["state"] == "expired"
    response = act(client, officers["drafter"], alert["id"], "update", {"texts": {"en": "x"}})
    assert response.status_code == 409


def test_every_transition_is_in_the_append_only_audit_trail(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    trail = client.get(f"{ALERTS}/{alert['id']}/audit", headers=bearer(officers["drafter"])).json
    assert [(e["action"], e["officer"]) for e in trail["entries"]] == [
        ("created", "Drafter"),
        ("submitted", "Drafter"),
        ("approved", "Approver"),
        ("cancelled", "Drafter"),
    ]
    with app.app_context():
        session = get_session()
        for statement in ("UPDATE alert_audit SET action = 'x'", "DELETE FROM alert_audit"):
            with pytest.raises(Exception, match="append-only"):
                session.execute(text(statement))
            session.rollback()
    assert count(app, AuditEntry) == 4


def test_test_alerts_reach_only_testers(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    from alerts.subscribers import set_tester

    create_subscribers(app, [("+13125550101", *LOOP), ("+13125550102", *LOOP)])
    with app.app_context():
        set_tester(session=get_session(), phone="+13125550102")
    alert = send(client, officers, status="Test")
    assert alert["audience"]["subscribers"] == 1
