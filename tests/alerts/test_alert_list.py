"""GET /api/v1/alerts: an agency's alerts, newest first, by state, a page at a time."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.alerts.test_alerts_api import ALERTS, act, draft
from tests.console.support import signed_in_client
from tests.factories import bearer, create_agency, create_officer


def listed(client: FlaskClient, key: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"{ALERTS}{query}", headers=bearer(key))
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def ids(page: dict[str, Any]) -> list[int]:
    return [alert["id"] for alert in page["alerts"]]


def test_the_list_shows_the_agencys_alerts_newest_first_as_summaries(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    first = draft(client, officers["drafter"])
    second = draft(client, officers["drafter"], children=[{"name": "Ann Roe"}, {"name": "Bo Roe"}])
    assert act(client, officers["drafter"], second["id"], "submit").status_code == 200

    page = listed(client, officers["drafter"])

    assert ids(page) == [second["id"], first["id"]]
    assert page["next"] is None
    summary = page["alerts"][0]
    assert summary["state"] == "pending"
    assert summary["status"] == "Actual"
    assert summary["revision"] == 1
    assert summary["headline"] == "AMBER Alert: Ann Roe, Bo Roe"
    assert summary["created_by"]["name"] == "Drafter"
    assert summary["submitted_at"] is not None
    assert summary["sent_at"] is None
    assert summary["expires"] == second["expires"]
    assert summary["review_note"] is None
    assert summary["can_approve"] is False  # the drafter is no approver
    assert page["alerts"][1]["submitted_at"] is None


def test_the_state_filter_keeps_only_the_states_given(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    kept = draft(client, officers["drafter"])
    pending = draft(client, officers["drafter"])
    act(client, officers["drafter"], pending["id"], "submit")
    cancelled = draft(client, officers["drafter"])
    act(client, officers["drafter"], cancelled["id"], "cancel", {"reason": "other"})

    assert ids(listed(client, officers["drafter"], "?state=pending")) == [pending["id"]]
    both = listed(client, officers["drafter"], "?state=draft&state=cancelled")
    assert ids(both) == [cancelled["id"], kept["id"]]
    assert ids(listed(client, officers["drafter"], "?state=active")) == []


def test_pages_follow_the_cursor_to_the_end_without_repeats_or_gaps(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    made = [draft(client, officers["drafter"])["id"] for _ in range(5)]
    seen: list[int] = []
    page = listed(client, officers["drafter"], "?limit=2")
    sizes = [len(page["alerts"])]
    seen += ids(page)
    while page["next"] is not None:
        page = listed(client, officers["drafter"], f"?limit=2&cursor={page['next']}")
        sizes.append(len(page["alerts"]))
        seen += ids(page)
    assert sizes == [2, 2, 1]
    assert seen == sorted(made, reverse=True)


def test_another_agencys_alerts_are_never_listed(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    draft(client, officers["drafter"])
    create_agency(app, "Springfield PD")
    stranger = create_officer(app, "Springfield PD", "Stranger", approver=True)
    assert listed(client, stranger)["alerts"] == []


def test_can_approve_is_offered_only_to_an_approver_who_wrote_none_of_a_pending_alert(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    theirs = draft(client, officers["drafter"])
    act(client, officers["drafter"], theirs["id"], "submit")
    own = draft(client, officers["approver"])
    act(client, officers["approver"], own["id"], "submit")
    still_draft = draft(client, officers["drafter"])

    offered = {a["id"]: a["can_approve"] for a in listed(client, officers["approver"])["alerts"]}
    assert offered == {theirs["id"]: True, own["id"]: False, still_draft["id"]: False}
    assert not any(a["can_approve"] for a in listed(client, officers["drafter"])["alerts"])


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?state=sent", 422, None),
        ("?limit=0", 422, None),
        ("?limit=101", 422, None),
        ("?cursor=bm90LWEtY3Vyc29y", 422, "invalid_cursor"),
        ("?cursor=%25%25%25", 422, "invalid_cursor"),
        ("?limit=2&limit=3", 400, None),
        ("?colour=red", 422, None),
    ],
)
def test_a_bad_query_gets_a_clear_error(
    client: FlaskClient, officers: dict[str, str], query: str, status: int, code: str | None
) -> None:
    response = client.get(f"{ALERTS}{query}", headers=bearer(officers["drafter"]))
    assert response.status_code == status, response.json
    error = response.json["error"]  # type: ignore[index]
    assert error["message"]
    if code:
        assert error["code"] == code


def test_the_console_lists_with_its_session_cookie(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = draft(client, officers["drafter"])
    console, _csrf = signed_in_client(app, officers["drafter"])
    response = console.get(ALERTS)
    assert response.status_code == 200
    assert ids(response.json) == [alert["id"]]  # type: ignore[arg-type]
