"""The console's home: the officer's alerts by state, and for an approver the approval queue
of what they may approve, oldest first, never their own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from alerts import store
from alerts.console.pages import GROUP_LIMIT
from alerts.models import Alert
from haven.db import get_session, write
from tests.console.support import signed_in_client
from tests.factories import bearer, create_officer, draft_body

ALERTS = "/api/v1/alerts"


def drafted(client: FlaskClient, key: str, name: str, *, submit: bool = False) -> dict[str, Any]:
    """A draft for a child called `name`, submitted for approval if asked."""
    body = draft_body(children=[{"name": name, "age": 7}])
    alert: dict[str, Any] = client.post(ALERTS, json=body, headers=bearer(key)).json  # type: ignore[assignment]
    if submit:
        submitted = client.post(f"{ALERTS}/{alert['id']}/submit", headers=bearer(key))
        assert submitted.status_code == 200, submitted.json
    return alert


def copies(app: Flask, alert_id: int, count: int) -> None:
    """`count` more alerts like `alert_id` (same creator and state), written straight to the
    store: newer than it, and with no audit trail of their own."""
    with app.app_context():
        session = get_session()
        with write(session):
            original = store.get_alert(session=session, alert_id=alert_id)
            assert original is not None
            for _ in range(count):
                store.save(
                    session=session,
                    row=Alert(
                        agency_id=original.agency_id,
                        status=original.status,
                        state=original.state,
                        created_by=original.created_by,
                        created_at=original.created_at,
                        expires=original.expires,
                        content=original.content,
                    ),
                )


def section(page: str, element_id: str) -> str:
    """The HTML of the <section> or list whose id is `element_id` ("" if absent)."""
    found = re.search(rf'id="{element_id}".*?</(section|ol)>', page, re.S)
    return found.group(0) if found else ""


def test_home_lists_the_officers_alerts_by_state(app: Flask, officers: dict[str, str]) -> None:
    api = app.test_client()
    drafted(api, officers["drafter"], "Dana Draft")
    waiting = drafted(api, officers["drafter"], "Wendy Waiting", submit=True)
    returned = drafted(api, officers["drafter"], "Rita Returned", submit=True)
    sent_back = api.post(
        f"{ALERTS}/{returned['id']}/return",
        json={"revision": returned["revision"], "reason": "Add the vehicle's colour."},
        headers=bearer(officers["approver"]),
    )
    assert sent_back.status_code == 200, sent_back.json
    client, _csrf = signed_in_client(app, officers["drafter"])
    page = client.get("/console/").get_data(as_text=True)
    assert "Dana Draft" in section(page, "group-drafts")
    assert "Wendy Waiting" in section(page, "group-pending")
    assert "Rita Returned" in section(page, "group-returned")
    assert "Add the vehicle&#39;s colour." in section(page, "group-returned")
    assert "Rita Returned" not in section(page, "group-drafts")
    assert f'href="/console/alerts/{waiting["id"]}"' in page
    assert 'href="/console/alerts/new"' in page
    assert 'id="queue-title"' not in page  # a drafter has no queue


def test_the_queue_shows_only_what_the_approver_may_approve_oldest_first(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    colleague = create_officer(app, name="Colleague")
    first = drafted(api, officers["drafter"], "Olive Oldest", submit=True)
    second = drafted(api, colleague, "Nina Newer", submit=True)
    drafted(api, officers["approver"], "Anna Approvers-Own", submit=True)
    drafted(api, officers["drafter"], "Doris Still-Draft")
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get("/console/").get_data(as_text=True)
    queue = section(page, "approval-queue")
    assert "Olive Oldest" in queue
    assert "Nina Newer" in queue
    assert queue.index("Olive Oldest") < queue.index("Nina Newer")
    assert "Anna Approvers-Own" not in queue
    assert "Doris Still-Draft" not in queue
    assert "Anna Approvers-Own" in section(page, "group-pending")
    assert queue.count("waiting ") == 2
    assert f'href="/console/alerts/{first["id"]}"' in queue
    assert f'href="/console/alerts/{second["id"]}"' in queue
    assert "Waiting for your approval (2)" in page


def test_an_approver_with_nothing_to_approve_is_told_so(
    app: Flask, officers: dict[str, str]
) -> None:
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get("/console/").get_data(as_text=True)
    assert "Nothing waits for your approval." in page


def test_home_shows_nothing_of_another_agencys_alerts(app: Flask, officers: dict[str, str]) -> None:
    from tests.factories import create_agency

    create_agency(app, "Springfield PD")
    other = create_officer(app, "Springfield PD", name="Elsewhere")
    api = app.test_client()
    drafted(api, other, "Olga Other-Agency", submit=True)
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get("/console/").get_data(as_text=True)
    assert "Olga Other-Agency" not in page


def test_an_officers_older_draft_is_listed_however_many_drafts_others_wrote_since(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    colleague = create_officer(app, name="Colleague")
    drafted(api, officers["drafter"], "Olive Older-Draft")
    newer = drafted(api, colleague, "Carla Colleagues-Draft")
    copies(app, newer["id"], GROUP_LIMIT)
    client, _csrf = signed_in_client(app, officers["drafter"])
    page = client.get("/console/").get_data(as_text=True)
    drafts = section(page, "group-drafts")
    assert "Olive Older-Draft" in drafts
    assert "Carla Colleagues-Draft" not in drafts
    assert "Drafts (1)" in page


def test_the_queue_starts_with_the_oldest_alert_however_many_wait(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    drafted(api, officers["drafter"], "Olive Oldest", submit=True)
    newer = drafted(api, officers["drafter"], "Nina Newer", submit=True)
    copies(app, newer["id"], GROUP_LIMIT)
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get("/console/").get_data(as_text=True)
    queue = section(page, "approval-queue")
    assert queue.index("Olive Oldest") < queue.index("Nina Newer")
    assert f"Waiting for your approval ({GROUP_LIMIT})" in page


@pytest.mark.parametrize("settings_overrides", [{"two_person_rule": False}])
def test_without_the_two_person_rule_the_queue_offers_the_approvers_own_alert_as_the_api_does(
    app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    own = drafted(api, officers["approver"], "Anna Approvers-Own", submit=True)
    listed = api.get(f"{ALERTS}?state=pending", headers=bearer(officers["approver"])).json
    assert listed is not None
    assert [a["can_approve"] for a in listed["alerts"] if a["id"] == own["id"]] == [True]
    client, _csrf = signed_in_client(app, officers["approver"])
    page = client.get("/console/").get_data(as_text=True)
    assert "Anna Approvers-Own" in section(page, "approval-queue")
