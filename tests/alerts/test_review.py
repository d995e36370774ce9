"""Approvers return a pending alert to draft or reject it, with a reason the drafter sees;
a second tab acting on a stale revision gets 409 naming the current one."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.models import AlertVersion, AuditEntry
from haven.db import get_session
from tests.alerts.test_alerts_api import ALERTS, act, approve, draft
from tests.console.support import signed_in_client
from tests.factories import bearer, create_agency, create_officer

REASON = "The plate is missing a digit: check with the caller."


def pending(client: FlaskClient, officers: dict[str, str]) -> dict[str, Any]:
    alert = draft(client, officers["drafter"])
    submitted = act(client, officers["drafter"], alert["id"], "submit")
    assert submitted.status_code == 200, submitted.json
    body: dict[str, Any] = submitted.json
    return body


def read(client: FlaskClient, key: str, alert_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{ALERTS}/{alert_id}", headers=bearer(key)).json
    return body


def audit_actions(app: Flask, alert_id: int) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        entries = get_session().scalars(
            select(AuditEntry).where(AuditEntry.alert_id == alert_id).order_by(AuditEntry.id)
        )
        return [(e.action, e.changes) for e in entries]


def test_a_returned_alert_is_a_draft_again_with_the_reason_until_it_is_resubmitted(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = pending(client, officers)
    body = {"revision": alert["revision"], "reason": f"  {REASON} "}
    returned = act(client, officers["approver"], alert["id"], "return", body)

    assert returned.status_code == 200, returned.json
    assert returned.json["state"] == "draft"
    assert returned.json["review_note"] == REASON
    assert read(client, officers["drafter"], alert["id"])["review_note"] == REASON
    action, changes = audit_actions(app, alert["id"])[-1]
    assert action == "returned"
    assert changes == {"revision": alert["revision"], "reason": REASON}

    resubmitted = act(client, officers["drafter"], alert["id"], "submit")
    assert resubmitted.json["state"] == "pending"
    assert resubmitted.json["review_note"] is None


def test_a_rejected_alert_ends_unsent_with_the_reason(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = pending(client, officers)
    body = {"revision": alert["revision"], "reason": REASON}
    rejected = act(client, officers["approver"], alert["id"], "reject", body)

    assert rejected.status_code == 200, rejected.json
    assert rejected.json["state"] == "rejected"
    assert rejected.json["review_note"] == REASON
    assert rejected.json["version"] == 0
    assert audit_actions(app, alert["id"])[-1] == (
        "rejected",
        {"revision": alert["revision"], "reason": REASON},
    )
    with app.app_context():
        versions = get_session().scalars(
            select(AlertVersion).where(AlertVersion.alert_id == alert["id"])
        )
        assert list(versions) == []
    # Final: it can be neither approved, nor changed, nor cancelled, and it is never public.
    assert approve(client, officers["approver"], alert).status_code == 409
    changed = act(
        client, officers["drafter"], alert["id"], "update", {"contact_phone": "+18005559999"}
    )
    assert changed.status_code == 409
    assert changed.json["error"]["code"] == "alert_rejected"
    cancel = act(client, officers["drafter"], alert["id"], "cancel", {"reason": "other"})
    assert cancel.status_code == 409
    assert client.get(f"/alerts/{alert['id']}").status_code == 404
    listed = client.get(f"{ALERTS}?state=rejected", headers=bearer(officers["drafter"])).json
    assert [a["id"] for a in listed["alerts"]] == [alert["id"]]  # type: ignore[index]


@pytest.mark.parametrize("action", ["return", "reject"])
def test_a_review_of_a_stale_revision_is_refused_naming_the_current_one(
    app: Flask, client: FlaskClient, officers: dict[str, str], action: str
) -> None:
    alert = pending(client, officers)
    # The drafter changes it (back to draft), and submits again: now at revision 2.
    act(client, officers["drafter"], alert["id"], "update", {"contact_phone": "+18005550000"})
    act(client, officers["drafter"], alert["id"], "submit")
    before = audit_actions(app, alert["id"])

    stale = act(client, officers["approver"], alert["id"], action, {"revision": 1, "reason": "x"})

    assert stale.status_code == 409
    error = stale.json["error"]
    assert error["code"] == "stale_revision"
    assert error["details"] == {"revision": 2}
    assert error["message"] == (
        "This alert changed since you opened it: it is now at revision 2. "
        "Reload to see the changes."
    )
    assert read(client, officers["drafter"], alert["id"])["state"] == "pending"
    assert audit_actions(app, alert["id"]) == before


@pytest.mark.parametrize("action", ["return", "reject"])
def test_only_an_approver_who_wrote_none_of_it_may_review_it(
    client: FlaskClient, officers: dict[str, str], action: str
) -> None:
    theirs = pending(client, officers)
    body = {"revision": 1, "reason": REASON}
    by_drafter = act(client, officers["drafter"], theirs["id"], action, body)
    assert by_drafter.status_code == 403
    assert "approver rights" in by_drafter.json["error"]["message"]

    own = draft(client, officers["approver"])
    act(client, officers["approver"], own["id"], "submit")
    by_author = act(client, officers["approver"], own["id"], action, body)
    assert by_author.status_code == 403
    assert "two-person rule" in by_author.json["error"]["message"]
    assert read(client, officers["approver"], own["id"])["state"] == "pending"


@pytest.mark.parametrize("action", ["return", "reject"])
def test_only_a_pending_alert_can_be_reviewed(
    client: FlaskClient, officers: dict[str, str], action: str
) -> None:
    alert = draft(client, officers["drafter"])
    response = act(
        client, officers["approver"], alert["id"], action, {"revision": 1, "reason": "x"}
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "alert_draft"


@pytest.mark.parametrize(
    "body",
    [
        {"revision": 1},
        {"revision": 1, "reason": "   "},
        {"revision": 1, "reason": "x" * 1001},
        {"reason": REASON},
        {"revision": 0, "reason": REASON},
        {"revision": 1, "reason": REASON, "extra": True},
    ],
)
def test_a_review_without_a_reason_or_revision_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, officers: dict[str, str], body: dict[str, Any]
) -> None:
    alert = pending(client, officers)
    before = audit_actions(app, alert["id"])
    for action in ("return", "reject"):
        response = act(client, officers["approver"], alert["id"], action, body)
        assert response.status_code == 422, response.json
        assert response.json["error"]["message"]
    assert read(client, officers["drafter"], alert["id"])["state"] == "pending"
    assert audit_actions(app, alert["id"]) == before


def test_another_agencys_approver_cannot_review_it(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = pending(client, officers)
    create_agency(app, "Springfield PD")
    stranger = create_officer(app, "Springfield PD", "Stranger", approver=True)
    response = act(client, stranger, alert["id"], "reject", {"revision": 1, "reason": REASON})
    assert response.status_code in (403, 404)
    assert read(client, officers["drafter"], alert["id"])["state"] == "pending"


def test_the_console_returns_an_alert_with_its_session_and_csrf_token(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = pending(client, officers)
    console, csrf = signed_in_client(app, officers["approver"])
    url = f"{ALERTS}/{alert['id']}/return"
    body = {"revision": 1, "reason": REASON}
    assert console.post(url, json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert console.post(url, json=body, headers={"X-CSRF-Token": csrf}).json["state"] == "draft"


# Submit, update and cancel with the revision the officer saw.


def stale_error(response: Any, current: int) -> None:
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "stale_revision"
    assert response.json["error"]["details"] == {"revision": current}
    assert f"it is now at revision {current}." in response.json["error"]["message"]


def test_submit_update_and_cancel_refuse_a_stale_revision_given_in_the_body(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    key = officers["drafter"]
    alert = draft(client, key)
    act(client, key, alert["id"], "update", {"contact_phone": "+18005550000", "revision": 1})
    stale_error(act(client, key, alert["id"], "submit", {"revision": 1}), 2)
    stale_error(
        act(client, key, alert["id"], "update", {"contact_phone": "+18005559999", "revision": 1}), 2
    )
    stale_error(act(client, key, alert["id"], "cancel", {"reason": "other", "revision": 1}), 2)
    current = read(client, key, alert["id"])
    assert (current["state"], current["revision"]) == ("draft", 2)
    assert current["content"]["contact_phone"] == "+18005550000"

    assert act(client, key, alert["id"], "submit", {"revision": 2}).json["state"] == "pending"
    cancelled = act(client, key, alert["id"], "cancel", {"reason": "other", "revision": 2})
    assert cancelled.json["state"] == "cancelled"


def test_submit_update_and_cancel_refuse_a_stale_revision_given_as_if_match(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    key = officers["drafter"]
    alert = draft(client, key)
    act(client, key, alert["id"], "update", {"contact_phone": "+18005550000"})
    stale = {**bearer(key), "If-Match": '"1"'}
    url = f"{ALERTS}/{alert['id']}"
    stale_error(client.post(f"{url}/submit", headers=stale), 2)
    stale_error(
        client.post(f"{url}/update", json={"contact_phone": "+18005559999"}, headers=stale), 2
    )
    stale_error(client.post(f"{url}/cancel", json={"reason": "other"}, headers=stale), 2)

    current = {**bearer(key), "If-Match": '"2"'}
    updated = client.post(f"{url}/update", json={"contact_phone": "+18005559999"}, headers=current)
    assert updated.status_code == 200, updated.json
    assert updated.json["revision"] == 3


def test_a_revision_alone_is_no_update_and_body_and_header_must_agree(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    key = officers["drafter"]
    alert = draft(client, key)
    alone = act(client, key, alert["id"], "update", {"revision": 1})
    assert alone.status_code == 422
    assert "at least one field" in alone.json["error"]["message"]
    headers = {**bearer(key), "If-Match": '"2"'}
    disagree = client.post(f"{ALERTS}/{alert['id']}/submit", json={"revision": 1}, headers=headers)
    assert disagree.status_code == 422
    assert read(client, key, alert["id"])["state"] == "draft"
    assert "revision" not in read(client, key, alert["id"])["content"]
