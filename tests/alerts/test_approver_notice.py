"""When an alert is submitted, the agency's approvers (never the submitter) hear of it through
their own channel, an Apprise URL or an SMS number, with the link to it in the console; the
submit never waits for them, and a notice that fails is retried, audited and counted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.approvals import EXTENSION, ApproverNotices
from alerts.models import AuditEntry, Officer
from haven.db import Database, get_session, write
from haven.metrics import EVENTS
from tests.alerts.test_alerts_api import act, draft
from tests.alerts.test_dispatch import wait_for
from tests.factories import create_officer
from tests.fakes.tarpit import Tarpit
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.webhook_server import WebhookServer

PUBLIC_URL = "https://haven.example.org"
APPROVER_PHONE = "+13125550199"


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {"public_url": PUBLIC_URL, **fake_twilio.settings(), "channel_send_seconds": 1.0}


@pytest.fixture
def notices(app: Flask) -> ApproverNotices:
    """The app's notices, retrying without the production backoff."""
    notices = ApproverNotices(app, backoff=(0.01, 0.01))
    app.extensions[EXTENSION] = notices
    return notices


def set_notify(app: Flask, name: str, target: str | None) -> int:
    with app.app_context():
        session = get_session()
        with write(session):
            officer = session.scalars(select(Officer).where(Officer.name == name)).one()
            officer.notify_to = target
        return officer.id


def notice_entries(app: Flask, alert_id: int) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        entries = get_session().scalars(
            select(AuditEntry)
            .where(AuditEntry.alert_id == alert_id, AuditEntry.action.like("approver_%"))
            .order_by(AuditEntry.id)
        )
        return [(e.action, e.changes) for e in entries]


def counted(channel: str, outcome: str) -> float:
    labels = {"channel": channel, "outcome": outcome}
    return EVENTS.get_sample_value("haven_approver_notices_total", labels) or 0.0


def submitted(client: FlaskClient, key: str) -> int:
    alert = draft(client, key)
    response = act(client, key, alert["id"], "submit")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "pending"
    alert_id: int = alert["id"]
    return alert_id


def webhook_url(server: WebhookServer | Tarpit) -> str:
    return f"json://127.0.0.1:{server.port}/approvals"


def test_each_approver_but_the_submitter_is_told_through_their_channel_with_the_link(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    create_officer(app, name="Quiet", approver=True)  # no address: not told
    by_apprise = set_notify(app, "Approver", webhook_url(webhook_server))
    by_sms = set_notify(app, "Second", APPROVER_PHONE)
    set_notify(app, "Drafter", "+13125550198")  # no approver: not told

    alert_id = submitted(client, officers["drafter"])
    wait_for(lambda: len(webhook_server.hooks) == 1 and len(fake_twilio.messages) == 1)
    notices.wait()

    link = f"{PUBLIC_URL}/console/alerts/{alert_id}"
    (hook,) = webhook_server.hooks
    assert hook.path == "/approvals"
    assert hook.json["title"] == "Waiting for approval: AMBER Alert: Jane Doe"
    assert link in hook.json["message"]
    (message,) = fake_twilio.messages
    assert message.to == APPROVER_PHONE
    assert link in message.body
    assert sorted(notice_entries(app, alert_id), key=lambda e: e[1]["approver"]) == [
        ("approver_notified", {"approver": by_apprise, "channel": "apprise"}),
        ("approver_notified", {"approver": by_sms, "channel": "sms"}),
    ]


def test_an_approver_who_submits_their_own_alert_is_not_told_of_it(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    set_notify(app, "Approver", webhook_url(webhook_server))
    set_notify(app, "Second", APPROVER_PHONE)

    submitted(client, officers["approver"])
    wait_for(lambda: len(fake_twilio.messages) == 1)
    notices.wait()

    assert webhook_server.hooks == []


def test_a_failed_notice_never_fails_the_submit_and_is_audited_and_counted(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    webhook_server: WebhookServer,
) -> None:
    webhook_server.status = 500
    approver = set_notify(app, "Approver", webhook_url(webhook_server))
    failed_before = counted("apprise", "failed")

    alert_id = submitted(client, officers["drafter"])
    notices.wait()

    assert notice_entries(app, alert_id) == [
        ("approver_notice_failed", {"approver": approver, "channel": "apprise", "error": "apprise"})
    ]
    assert counted("apprise", "failed") == failed_before + 1


def test_a_notice_the_provider_asks_to_retry_is_sent_again_before_it_counts_as_failed(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    retried_before = counted("sms", "retried")

    alert_id = submitted(client, officers["drafter"])
    notices.wait()

    assert fake_twilio.requests == 3
    [(action, changes)] = notice_entries(app, alert_id)
    assert action == "approver_notice_failed"
    assert (changes["approver"], changes["channel"]) == (approver, "sms")
    assert counted("sms", "retried") == retried_before + 2


def test_the_submit_answers_while_a_notice_is_still_unanswered(
    app: Flask, client: FlaskClient, officers: dict[str, str], notices: ApproverNotices
) -> None:
    with Tarpit(lifetime=30) as tarpit:
        set_notify(app, "Approver", webhook_url(tarpit))
        alert_id = submitted(client, officers["drafter"])
        # Answered, while the approver's channel has not said a word yet.
        reached: Callable[[], bool] = lambda: tarpit.accepted >= 1  # noqa: E731
        wait_for(reached)
        assert notice_entries(app, alert_id) == []
        notices.wait()
    [(action, _changes)] = notice_entries(app, alert_id)
    assert action == "approver_notice_failed"  # the channel never answered


def test_an_approver_who_wrote_some_of_the_alert_is_not_told_of_it(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    set_notify(app, "Approver", webhook_url(webhook_server))
    second = set_notify(app, "Second", APPROVER_PHONE)
    alert = draft(client, officers["drafter"])
    updated = act(client, officers["approver"], alert["id"], "update", {"texts": {"en": "Hi."}})
    assert updated.status_code == 200, updated.json
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200

    wait_for(lambda: len(fake_twilio.messages) == 1)
    notices.wait()

    assert webhook_server.hooks == []  # under the two-person rule, they cannot approve it
    assert notice_entries(app, alert["id"]) == [
        ("approver_notified", {"approver": second, "channel": "sms"})
    ]


def test_notices_that_cannot_be_started_never_fail_the_submit_and_are_counted(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_notify(app, "Approver", APPROVER_PHONE)
    alert = draft(client, officers["drafter"])
    failed_before = counted("none", "failed")

    def cannot_start(_thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")  # as when a process runs out of threads

    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", cannot_start)
        response = act(client, officers["drafter"], alert["id"], "submit")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "pending"
    assert counted("none", "failed") == failed_before + 1


def test_a_sent_notice_whose_audit_cannot_be_written_is_not_counted_as_failed(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    notices: ApproverNotices,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    set_notify(app, "Approver", APPROVER_PHONE)
    sent_before, failed_before = counted("sms", "sent"), counted("sms", "failed")
    fake_twilio.latency = 2.0  # the send is under way while the database goes away
    database = app.extensions["haven.db"]
    without_tables = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        alert_id = submitted(client, officers["drafter"])
        wait_for(lambda: fake_twilio.requests == 1)
        app.extensions["haven.db"] = without_tables  # where the audit entry cannot be written
        notices.wait()
    finally:
        app.extensions["haven.db"] = database
        without_tables.dispose()
    assert len(fake_twilio.messages) == 1
    assert counted("sms", "sent") == sent_before + 1
    assert counted("sms", "failed") == failed_before
    assert notice_entries(app, alert_id) == []
