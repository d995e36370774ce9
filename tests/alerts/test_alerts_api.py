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


def approve(client: FlaskClient, key: str, alert: dict[str, Any]) -> Any:
    """Approve at the revision the approver reads first, as an approver does."""
    reviewed = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(key))
    return act(client, key, alert["id"], "approve", {"revision": reviewed.json["revision"]})


def send(client: FlaskClient, officers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    alert = draft(client, officers["drafter"], **overrides)
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    approved = approve(client, officers["approver"], alert)
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


def test_a_direction_of_travel_is_optional_and_stored_trimmed(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    given = {"place": "Millennium Park", "direction": "  north on I-94\n"}
    alert = draft(client, officers["drafter"], last_seen=given)
    assert alert["content"]["last_seen"]["direction"] == "north on I-94"
    fetched = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"]))
    assert fetched.json["content"]["last_seen"]["direction"] == "north on I-94"
    longest = draft(client, officers["drafter"], last_seen={"direction": "n" * 120})
    assert longest["content"]["last_seen"] == {"at": None, "place": None, "direction": "n" * 120}
    without = draft(client, officers["drafter"])
    assert without["content"]["last_seen"]["direction"] is None
    moved = {"last_seen": {"place": "Navy Pier", "direction": "south"}}
    updated = act(client, officers["drafter"], without["id"], "update", moved)
    assert updated.status_code == 200, updated.json
    assert updated.json["content"]["last_seen"]["direction"] == "south"


def square(*, lon: float = -87.9) -> dict[str, Any]:
    """A GeoJSON Polygon in Cook County whose first (and last) corner is at `lon`."""
    ring = [[lon, 41.7], [-87.6, 41.7], [-87.6, 42.0], [-87.9, 42.0], [lon, 41.7]]
    return {"type": "Polygon", "coordinates": [ring]}


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
        ({"children": [{"name": "Jane Doe", "age": True}]}, "children.0.age"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"texts": {"xx": "hello"}}, "unsupported language"),
        ({"vehicle": {"plate": "ABC1234", "plate_state": "ZZ"}}, "plate_state"),
        ({"last_seen": {"direction": ""}}, "last_seen.direction"),
        ({"last_seen": {"direction": " \n\t "}}, "last_seen.direction"),
        ({"last_seen": {"direction": "n" * 121}}, "last_seen.direction"),
        ({"last_seen": {"direction": 90}}, "last_seen.direction"),
        ({"status": "Real"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"areas": [{"same": ""}]}, "areas.0: Value error, the same is empty"),
        ({"areas": [{"polygon": "  "}]}, "areas.0: Value error, the polygon is empty"),
        ({"areas": [{"circle": ""}]}, "areas.0: Value error, the circle is empty"),
        ({"areas": [{"geojson": {}}]}, "areas.0: Value error, the geojson is empty"),
        ({"areas": [{"geojson": square(lon=-(10**400))}]}, "the number is too large"),
        (
            {"areas": [{"polygon": f"{'4' * 400},-87.9 41.7,-87.6 42.0,-87.6 {'4' * 400},-87.9"}]},
            "the number is too large",
        ),
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
    response = approve(client, officers["lone_approver"], alert)
    assert response.status_code == 403
    assert "two-person rule" in response.json["error"]["message"]


@pytest.mark.parametrize("settings_overrides", [{"two_person_rule": False}])
def test_training_can_switch_the_two_person_rule_off(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["lone_approver"])
    act(client, officers["lone_approver"], alert["id"], "submit")
    assert approve(client, officers["lone_approver"], alert).status_code == 200


def test_only_approvers_approve(client: FlaskClient, officers: dict[str, str]) -> None:
    alert = draft(client, officers["approver"])
    act(client, officers["approver"], alert["id"], "submit")
    response = approve(client, officers["drafter"], alert)
    assert response.status_code == 403


def test_another_agency_cannot_see_or_act_on_an_alert(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    stranger = officers["stranger"]
    # The same 404 as for an alert that does not exist: the stranger learns nothing.
    missing = client.get(f"{ALERTS}/999999", headers=bearer(stranger))
    seen = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(stranger))
    assert seen.status_code == missing.status_code == 404
    assert seen.json["error"]["code"] == missing.json["error"]["code"] == "not_found"
    for action, body in (
        ("submit", None),
        ("approve", {"revision": 1}),
        ("audience", None),
        ("cancel", {"reason": "other"}),
        ("return", {"revision": 1, "reason": "x"}),
        ("reject", {"revision": 1, "reason": "x"}),
    ):
        assert act(client, stranger, alert["id"], action, body).status_code == 404, action


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


# The two-person rule: nobody approves content they wrote or have not seen


def read(client: FlaskClient, key: str, alert_id: int) -> Any:
    return client.get(f"{ALERTS}/{alert_id}", headers=bearer(key))


def trail(client: FlaskClient, key: str, alert_id: int) -> list[tuple[str, int, int | None]]:
    """(action, officer id, revision) of each audit entry."""
    entries = client.get(f"{ALERTS}/{alert_id}/audit", headers=bearer(key)).json["entries"]
    return [(e["action"], e["officer_id"], e["changes"].get("revision")) for e in entries]


def officer_id(app: Flask, name: str) -> int:
    from alerts.models import Officer

    with app.app_context():
        found: int = get_session().scalar(select(Officer.id).where(Officer.name == name))
    return found


def test_a_get_shows_the_revision_and_its_etag_and_each_edit_raises_it(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    fetched = read(client, officers["drafter"], alert["id"])
    assert (fetched.json["revision"], fetched.headers["ETag"]) == (1, '"1"')
    edited = act(client, officers["drafter"], alert["id"], "update", {"texts": {"en": "New."}})
    assert (edited.json["revision"], edited.headers["ETag"]) == (2, '"2"')
    assert read(client, officers["drafter"], alert["id"]).json["revision"] == 2


def test_an_approver_who_edits_a_colleagues_pending_alert_sends_it_back_and_cannot_approve_it(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    act(client, officers["drafter"], alert["id"], "submit")
    edited = act(
        client,
        officers["approver"],
        alert["id"],
        "update",
        {"children": [{"name": "Someone Else"}], "areas": [{"same": "017043"}]},
    )
    assert edited.status_code == 200, edited.json
    assert (edited.json["state"], edited.json["revision"]) == ("draft", 2)
    # Back to draft: nothing to approve until the drafter has seen it and submitted again.
    refused = act(client, officers["approver"], alert["id"], "approve", {"revision": 2})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "alert_draft"
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    own_edit = approve(client, officers["approver"], alert)
    assert own_edit.status_code == 403
    assert "two-person rule" in own_edit.json["error"]["message"]
    assert read(client, officers["drafter"], alert["id"]).json["version"] == 0  # nothing sent
    approved = approve(client, officers["lone_approver"], alert)
    assert (approved.status_code, approved.json["state"]) == (200, "active")
    drafter, approver = officer_id(app, "Drafter"), officer_id(app, "Approver")
    assert trail(client, officers["drafter"], alert["id"]) == [
        ("created", drafter, 1),
        ("submitted", drafter, 1),
        ("updated", approver, 2),
        ("returned_to_draft", approver, 2),
        ("submitted", drafter, 2),
        ("approved", officer_id(app, "Lone"), 2),
    ]


def test_a_drafter_who_edits_a_pending_alert_must_submit_it_again(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    act(client, officers["drafter"], alert["id"], "submit")
    edited = act(client, officers["drafter"], alert["id"], "update", {"texts": {"en": "Later."}})
    assert (edited.json["state"], edited.json["revision"]) == ("draft", 2)
    assert approve(client, officers["approver"], alert).status_code == 409
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    approved = approve(client, officers["approver"], alert)
    assert approved.status_code == 200, approved.json
    assert approved.json["content"]["texts"]["en"] == "Later."
    drafter = officer_id(app, "Drafter")
    assert [entry[0] for entry in trail(client, officers["drafter"], alert["id"])] == [
        "created",
        "submitted",
        "updated",
        "returned_to_draft",
        "submitted",
        "approved",
    ]
    assert trail(client, officers["drafter"], alert["id"])[3] == (
        "returned_to_draft",
        drafter,
        2,
    )


def test_approving_a_revision_that_is_no_longer_current_is_refused_naming_the_current_one(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    reviewed = read(client, officers["approver"], alert["id"]).json["revision"]
    act(client, officers["drafter"], alert["id"], "update", {"texts": {"en": "Changed."}})
    act(client, officers["drafter"], alert["id"], "submit")
    stale = act(client, officers["approver"], alert["id"], "approve", {"revision": reviewed})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "stale_revision"
    assert "revision 2" in stale.json["error"]["message"]
    assert stale.json["error"]["details"] == {"revision": 2}
    assert read(client, officers["drafter"], alert["id"]).json["state"] == "pending"
    stale_tag = client.post(
        f"{ALERTS}/{alert['id']}/approve",
        headers={**bearer(officers["approver"]), "If-Match": f'"{reviewed}"'},
    )
    assert stale_tag.status_code == 409
    current = client.post(
        f"{ALERTS}/{alert['id']}/approve",
        headers={**bearer(officers["approver"]), "If-Match": '"2"'},
    )
    assert current.status_code == 200, current.json


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        ({}, None, 428, "revision you reviewed"),
        ({"If-Match": "*"}, None, 422, "If-Match"),
        ({"If-Match": '"1", "2"'}, None, 422, "If-Match"),
        ({"If-Match": '"one"'}, None, 422, "If-Match"),
        ({}, {}, 422, "revision"),
        ({}, {"revision": "latest"}, 422, "revision"),
    ],
)
def test_an_approval_must_name_the_revision_reviewed(
    client: FlaskClient,
    officers: dict[str, str],
    headers: dict[str, str],
    body: Any,
    status: int,
    says: str,
) -> None:
    alert = draft(client, officers["drafter"])
    act(client, officers["drafter"], alert["id"], "submit")
    response = client.post(
        f"{ALERTS}/{alert['id']}/approve",
        json=body,
        headers={**bearer(officers["approver"]), **headers},
    )
    assert response.status_code == status, response.json
    assert says in response.json["error"]["message"]
    assert read(client, officers["drafter"], alert["id"]).json["state"] == "pending"


@pytest.mark.parametrize("settings_overrides", [{"two_person_rule": False}])
def test_in_training_an_officer_approves_their_own_edit_but_still_the_current_revision(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    lone = officers["lone_approver"]
    alert = draft(client, lone)
    act(client, lone, alert["id"], "submit")
    assert act(client, lone, alert["id"], "update", {"texts": {"en": "x"}}).json["state"] == "draft"
    act(client, lone, alert["id"], "submit")
    assert act(client, lone, alert["id"], "approve", {"revision": 1}).status_code == 409
    assert approve(client, lone, alert).status_code == 200


# Input that once answered 500


@pytest.mark.parametrize(
    "path",
    [
        f"{ALERTS}/2147483648",
        f"{ALERTS}/99999999999999999999999999",
        f"{ALERTS}/{'9' * 5000}",
        f"{ALERTS}/99999999999999999999/audit",
        "/alerts/99999999999999999999",
        "/alerts/99999999999999999999.cap",
        "/a/99999999999999999999",
    ],
)
def test_an_id_beyond_the_databases_range_is_not_found(
    client: FlaskClient, officers: dict[str, str], path: str
) -> None:
    assert client.get(path, headers=bearer(officers["drafter"])).status_code == 404


def test_the_largest_id_the_database_holds_is_looked_up(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    response = client.get(f"{ALERTS}/2147483647", headers=bearer(officers["drafter"]))
    assert response.status_code == 404
    assert response.json["error"]["message"] == "No alert 2147483647."


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"children": [{"name": "Jane\x00Doe"}]}, "children.0.name"),
        ({"texts": {"en": "Call 911\x00"}}, "texts.en"),
        ({"last_seen": {"place": "\x00"}}, "last_seen.place"),
        ({"last_seen": {"direction": "north\x00"}}, "last_seen.direction"),
        ({"areas": [{"geojson": {"type\x00": "Polygon"}}]}, "areas.0.geojson.type"),
    ],
)
def test_a_nul_character_anywhere_in_a_draft_is_refused_naming_the_field(
    app: Flask, client: FlaskClient, officers: dict[str, str], overrides: Any, field: str
) -> None:
    response = client.post(
        ALERTS, json=draft_body(**overrides), headers=bearer(officers["drafter"])
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "nul_character"
    assert response.json["error"]["message"].startswith(field)
    assert count(app, Alert) == 0


def test_a_nul_character_in_a_cancel_note_is_refused_and_the_alert_stays_active(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    response = act(
        client, officers["drafter"], alert["id"], "cancel", {"reason": "other", "note": "a\x00b"}
    )
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("note:")
    assert read(client, officers["drafter"], alert["id"]).json["state"] == "active"


def test_a_nul_character_in_a_cap_document_is_refused(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    from pathlib import Path

    source = Path(__file__).parents[1] / "data" / "cap" / "alertswiss-TEST-1163.xml"
    document = source.read_bytes().replace(b"<headline>", b"<headline>&#0;", 1)
    response = client.post(
        f"{ALERTS}/cap",
        data=document,
        content_type="application/cap+xml",
        headers=bearer(officers["drafter"]),
    )
    assert response.status_code == 422
    assert "invalid character" in response.json["error"]["message"]
    assert count(app, Alert) == 0


def test_a_deeply_nested_draft_is_refused_without_a_server_error(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    nested = '{"areas": [{"geojson": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
    response = client.post(
        ALERTS, data=nested, content_type="application/json", headers=bearer(officers["drafter"])
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "too_deeply_nested"
    assert count(app, Alert) == 0


def cook_ring(vertices: int) -> str:
    """A CAP polygon of `vertices` pairs (the last repeating the first) around the Loop."""
    import math

    steps = [2 * math.pi * n / (vertices - 1) for n in range(vertices - 1)]
    pairs = [f"{41.85 + 0.05 * math.sin(t):.6f},{-87.75 + 0.05 * math.cos(t):.6f}" for t in steps]
    return " ".join([*pairs, pairs[0]])


@pytest.mark.parametrize(
    ("areas", "says"),
    [
        ([{"same": "017031"}] * 101, "the alert has 101 areas; the limit is 100"),
        ([{"polygon": cook_ring(20_001)}], "20,001 vertices in all; the limit is 20,000"),
        (
            [{"polygon": cook_ring(10_000)}, {"polygon": cook_ring(10_000)}, {"same": "017031"}],
            "20,122 vertices in all; the limit is 20,000",
        ),
    ],
)
def test_too_many_areas_or_vertices_are_refused_naming_the_limit_and_the_count(
    app: Flask, client: FlaskClient, officers: dict[str, str], areas: list[Any], says: str
) -> None:
    response = client.post(
        ALERTS, json=draft_body(areas=areas), headers=bearer(officers["drafter"])
    )
    assert response.status_code == 422, response.json
    assert says in response.json["error"]["message"]
    assert count(app, Alert) == 0

    alert = send(client, officers)
    response = act(client, officers["drafter"], alert["id"], "update", {"areas": areas})
    assert response.status_code == 422, response.json
    assert says in response.json["error"]["message"]
    shown = client.get(f"{ALERTS}/{alert['id']}", headers=bearer(officers["drafter"])).json
    assert shown["version"] == 1
    assert [area["same"] for area in shown["content"]["areas"]] == ["017031"]


def test_areas_at_the_limits_are_accepted(client: FlaskClient, officers: dict[str, str]) -> None:
    at_limit = [{"polygon": cook_ring(20_000 - 99 * 4)}] + [
        {"polygon": "41.8,-87.7 41.9,-87.7 41.9,-87.6 41.8,-87.7"}
    ] * 99
    alert = draft(client, officers["drafter"], areas=at_limit)
    assert len(alert["content"]["areas"]) == 100


def test_a_draft_answers_every_field_the_document_requires_even_when_null(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    created = client.post(ALERTS, json=draft_body(), headers=bearer(officers["drafter"]))
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]  # type: ignore[index]
    body = created.json
    assert set(schemas["AlertOut"]["required"]) <= set(body)
    assert body["sent_at"] is None
    assert body["audience"] is None
    assert set(schemas["AlertContentOut"]["required"]) <= set(body["content"])
