"""When an alert is submitted, the agency's approvers (never the submitter) hear of it through
their own channel, an Apprise URL or an SMS number, with the link to it in the console. The
notices are stored with the submit and sent by the worker: a notice that fails is retried,
audited and counted, and one whose review has ended is skipped.

Most tests send as a worker does, in the test's thread (`send_all`), on a clock they move; a
process that stops and workers side by side are in tests/alerts/test_approver_notice_queue.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.approvals import store
from alerts.approvals.runner import NoticeRunner
from alerts.approvals.service import EXTENSION, Notifier, make_notifier, send_due_notices
from alerts.models import ApproverNotice, AuditEntry, Officer
from haven.db import get_session, utcnow, write
from haven.metrics import EVENTS
from tests.alerts.test_alerts_api import act, approve, draft
from tests.alerts.test_dispatch import wait_for
from tests.alerts.test_distributors import Clock
from tests.factories import create_officer
from tests.fakes.tarpit import Tarpit
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.webhook_server import WebhookServer

PUBLIC_URL = "https://haven.example.org"
APPROVER_PHONE = "+13125550199"


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {"public_url": PUBLIC_URL, **fake_twilio.settings(), "channel_send_seconds": 1.0}


def use_notifier(app: Flask, **changes: Any) -> Notifier:
    """The app's notifier from its settings, with `changes` (a clock, a backoff ...)."""
    notifier = dataclasses.replace(make_notifier(app.extensions["haven.settings"]), **changes)
    app.extensions[EXTENSION] = notifier
    return notifier


def send_all(app: Flask, *, rounds: int = 20) -> int:
    """Send every due notice as a worker does, in the test's thread; returns how many."""
    sent = 0
    with app.app_context():
        while claimed := send_due_notices(
            app=app, session=get_session(), notifier=app.extensions[EXTENSION]
        ):
            sent += claimed
            assert sent < rounds, "notices kept coming due"
    return sent


def set_notify(app: Flask, name: str, target: str | None) -> int:
    with app.app_context():
        session = get_session()
        with write(session):
            officer = session.scalars(select(Officer).where(Officer.name == name)).one()
            officer.notify_to = target
        return officer.id


def notice_rows(app: Flask, alert_id: int) -> list[tuple[int, str, int]]:
    """An alert's notices: (approver, status, attempts)."""
    with app.app_context():
        rows = get_session().execute(
            select(ApproverNotice.officer_id, ApproverNotice.status, ApproverNotice.attempts)
            .where(ApproverNotice.alert_id == alert_id)
            .order_by(ApproverNotice.id)
        )
        return [(officer_id, status, attempts) for officer_id, status, attempts in rows]


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
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    create_officer(app, name="Quiet", approver=True)  # no address: not told
    by_apprise = set_notify(app, "Approver", webhook_url(webhook_server))
    by_sms = set_notify(app, "Second", APPROVER_PHONE)
    set_notify(app, "Drafter", "+13125550198")  # no approver: not told
    use_notifier(app)

    alert_id = submitted(client, officers["drafter"])
    # Stored with the submit, sent by the worker.
    assert notice_rows(app, alert_id) == [(by_apprise, "pending", 0), (by_sms, "pending", 0)]
    assert (webhook_server.hooks, fake_twilio.requests) == ([], 0)
    assert send_all(app) == 2

    link = f"{PUBLIC_URL}/console/alerts/{alert_id}"
    (hook,) = webhook_server.hooks
    assert hook.path == "/approvals"
    assert hook.json["title"] == "Waiting for approval: AMBER Alert: Jane Doe"
    assert (
        hook.json["message"]
        == f"Waiting for your approval: AMBER Alert: Jane Doe. Review it at {link}"
    )
    (message,) = fake_twilio.messages
    assert message.to == APPROVER_PHONE
    assert message.body == f"Waiting for your approval: AMBER Alert: Jane Doe. Review it at {link}"
    assert notice_entries(app, alert_id) == [
        ("approver_notified", {"approver": by_apprise, "channel": "apprise"}),
        ("approver_notified", {"approver": by_sms, "channel": "sms"}),
    ]
    assert notice_rows(app, alert_id) == [(by_apprise, "sent", 1), (by_sms, "sent", 1)]


def test_an_approver_who_submits_their_own_alert_is_not_told_of_it(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    set_notify(app, "Approver", webhook_url(webhook_server))
    second = set_notify(app, "Second", APPROVER_PHONE)
    use_notifier(app)

    alert_id = submitted(client, officers["approver"])
    assert notice_rows(app, alert_id) == [(second, "pending", 0)]
    assert send_all(app) == 1

    assert len(fake_twilio.messages) == 1
    assert webhook_server.hooks == []


def test_an_approver_who_wrote_some_of_the_alert_is_not_told_of_it(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    set_notify(app, "Approver", webhook_url(webhook_server))
    second = set_notify(app, "Second", APPROVER_PHONE)
    use_notifier(app)
    alert = draft(client, officers["drafter"])
    updated = act(client, officers["approver"], alert["id"], "update", {"texts": {"en": "Hi."}})
    assert updated.status_code == 200, updated.json
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200

    assert send_all(app) == 1

    assert webhook_server.hooks == []  # under the two-person rule, they cannot approve it
    assert len(fake_twilio.messages) == 1
    assert notice_entries(app, alert["id"]) == [
        ("approver_notified", {"approver": second, "channel": "sms"})
    ]


def test_a_refused_notice_never_fails_the_submit_and_is_audited_and_counted(
    app: Flask, client: FlaskClient, officers: dict[str, str], webhook_server: WebhookServer
) -> None:
    webhook_server.status = 500
    approver = set_notify(app, "Approver", webhook_url(webhook_server))
    use_notifier(app)
    failed_before = counted("apprise", "failed")

    alert_id = submitted(client, officers["drafter"])
    assert send_all(app) == 1

    assert notice_entries(app, alert_id) == [
        ("approver_notice_failed", {"approver": approver, "channel": "apprise", "error": "apprise"})
    ]
    assert notice_rows(app, alert_id) == [(approver, "failed", 1)]  # refused: not retried
    assert counted("apprise", "failed") == failed_before + 1


def test_a_notice_the_provider_asks_to_retry_is_sent_again_after_its_backoff(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    clock = Clock()
    use_notifier(app, clock=clock)
    retried_before, sent_before = counted("sms", "retried"), counted("sms", "sent")

    alert_id = submitted(client, officers["drafter"])
    assert send_all(app) == 1
    # 503: Twilio took nothing, so the attempt is given back (an outage must not use them up).
    assert notice_rows(app, alert_id) == [(approver, "pending", 0)]
    assert notice_entries(app, alert_id) == []
    fake_twilio.fail_rate = 0.0  # the provider is back
    clock.advance(seconds=4.5)
    assert send_all(app) == 0  # 5 seconds after the first attempt, not before
    clock.advance(seconds=1)
    assert send_all(app) == 1

    assert (fake_twilio.requests, len(fake_twilio.messages)) == (2, 1)
    assert notice_rows(app, alert_id) == [(approver, "sent", 1)]
    assert notice_entries(app, alert_id) == [
        ("approver_notified", {"approver": approver, "channel": "sms"})
    ]
    assert counted("sms", "retried") == retried_before + 1
    assert counted("sms", "sent") == sent_before + 1


def test_a_provider_that_took_nothing_never_uses_up_the_attempts_while_the_alert_waits(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    clock = Clock()
    use_notifier(app, clock=clock)

    alert_id = submitted(client, officers["drafter"])
    for wait in (0, 5, 5, 5, 5, 5):  # twice the attempts a refusing provider gets
        clock.advance(seconds=wait)
        assert send_all(app) == 1
    assert notice_rows(app, alert_id) == [(approver, "pending", 0)]
    fake_twilio.fail_rate = 0.0
    clock.advance(seconds=5)
    assert send_all(app) == 1

    assert len(fake_twilio.messages) == 1
    assert notice_rows(app, alert_id) == [(approver, "sent", 1)]


def test_a_notice_the_provider_refuses_every_time_fails_after_three_attempts_and_is_audited(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    # 500: Twilio may have taken the message, so every retry spends an attempt.
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (500,)
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    clock = Clock()
    use_notifier(app, clock=clock)
    retried_before, failed_before = counted("sms", "retried"), counted("sms", "failed")

    alert_id = submitted(client, officers["drafter"])
    for wait in (0, 5, 30):  # the first attempt, then after 5 and 30 seconds
        clock.advance(seconds=wait)
        assert send_all(app) == 1
    clock.advance(minutes=10)
    assert send_all(app) == 0  # never again

    assert fake_twilio.requests == 3
    assert notice_rows(app, alert_id) == [(approver, "failed", 3)]
    [(action, changes)] = notice_entries(app, alert_id)
    assert action == "approver_notice_failed"
    assert (changes["approver"], changes["channel"]) == (approver, "sms")
    assert counted("sms", "retried") == retried_before + 2
    assert counted("sms", "failed") == failed_before + 1


def test_a_notice_whose_alert_was_approved_before_it_was_sent_is_skipped(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    webhook_server: WebhookServer,
    fake_twilio: FakeTwilio,
) -> None:
    create_officer(app, name="Second", approver=True)
    approver = set_notify(app, "Approver", webhook_url(webhook_server))
    second = set_notify(app, "Second", APPROVER_PHONE)
    use_notifier(app)
    alert = draft(client, officers["drafter"])
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    assert approve(client, officers["approver"], alert).status_code == 200

    assert send_all(app) == 2

    assert (webhook_server.hooks, fake_twilio.requests) == ([], 0)
    assert notice_rows(app, alert["id"]) == [(approver, "skipped", 1), (second, "skipped", 1)]
    assert notice_entries(app, alert["id"]) == []


def test_submitting_again_skips_the_notices_of_the_submit_before(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    use_notifier(app)
    alert = draft(client, officers["drafter"])
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    returned = act(
        client,
        officers["approver"],
        alert["id"],
        "return",
        {"revision": alert["revision"], "reason": "Add the car."},
    )
    assert returned.status_code == 200, returned.json
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200

    assert send_all(app) == 1

    assert len(fake_twilio.messages) == 1  # told once, of the submit that is waiting
    assert notice_rows(app, alert["id"]) == [(approver, "skipped", 0), (approver, "sent", 1)]


def test_a_notice_whose_worker_died_is_sent_by_another_once_its_lease_runs_out(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    notifier = use_notifier(app)
    alert_id = submitted(client, officers["drafter"])
    with app.app_context():
        session = get_session()
        with write(session):  # a worker claims the notice, then dies before sending it
            claim = store.claim_notice(session=session, now=utcnow(), lease=notifier.lease)
            assert claim is not None
    assert send_all(app) == 0  # leased: no one else takes it yet
    use_notifier(app, clock=lambda: utcnow() + notifier.lease + notifier.lease / 60)
    assert send_all(app) == 1

    assert len(fake_twilio.messages) == 1
    assert notice_rows(app, alert_id) == [(approver, "sent", 2)]


def test_the_submit_answers_while_a_notice_is_still_unanswered(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    runner = NoticeRunner(app, use_notifier(app, backoff=(0.01, 0.01)), idle_seconds=0.05)
    runner.start()
    try:
        with Tarpit(lifetime=30) as tarpit:
            set_notify(app, "Approver", webhook_url(tarpit))
            alert_id = submitted(client, officers["drafter"])
            # Answered, while the approver's channel has not said a word yet.
            reached: Callable[[], bool] = lambda: tarpit.accepted >= 1  # noqa: E731
            wait_for(reached)
            assert notice_entries(app, alert_id) == []
            wait_for(lambda: notice_entries(app, alert_id) != [])
    finally:
        runner.stop()
    [(action, _changes)] = notice_entries(app, alert_id)
    assert action == "approver_notice_failed"  # the channel never answered
