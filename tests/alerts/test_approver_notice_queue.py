"""Approver notices are a queue in the database: a submit's notices outlive the process that
took it, and the worker's threads (in one process or several) send each of them once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from alerts.approvals.runner import NoticeRunner
from haven.worker import start_dispatch
from tests.alerts.test_approver_notice import (
    APPROVER_PHONE,
    notice_entries,
    notice_rows,
    set_notify,
    settings_overrides,  # noqa: F401 (the fixture)
    submitted,
    use_notifier,
)
from tests.alerts.test_dispatch import wait_for
from tests.factories import create_officer
from tests.fakes.twilio_server import FakeTwilio

ROOT = Path(__file__).parents[2]
UNFINISHED = {"pending", "sending"}

# A web process of its own: it takes one submit, answers, and stops.
SUBMITTING_PROCESS = """
import json, sys
from haven.app import create_app
from tests.alerts.test_alerts_api import act, draft
from tests.conftest import make_settings

url, overrides, key = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
client = create_app(make_settings(url, **overrides)).test_client()
alert = draft(client, key)
submit = act(client, key, alert["id"], "submit")
assert submit.status_code == 200, submit.json
print(alert["id"])
"""


def test_a_submits_notices_are_sent_once_by_the_next_process_when_the_one_that_took_it_stops(
    app: Flask,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    database_url: str,
    settings_overrides: dict[str, object],  # noqa: F811
) -> None:
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    # The SMS provider is down while the alert is submitted; the process that took the submit
    # stops (a deploy) before it is back.
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            SUBMITTING_PROCESS,
            database_url,
            json.dumps(settings_overrides),
            officers["drafter"],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    alert_id = int(process.stdout.split()[-1])
    assert notice_rows(app, alert_id) == [(approver, "pending", 0)]
    fake_twilio.fail_rate = 0.0

    # The next process (this one) starts its worker on the same database.
    runners = start_dispatch(app)
    try:
        wait_for(lambda: notice_rows(app, alert_id) == [(approver, "sent", 1)], timeout=60)
    finally:
        runners.stop()

    assert [m.to for m in fake_twilio.messages] == [APPROVER_PHONE]
    assert notice_entries(app, alert_id) == [
        ("approver_notified", {"approver": approver, "channel": "sms"})
    ]


def test_two_runners_at_once_send_each_notice_once(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    phones = [f"+1312555020{i}" for i in range(6)]
    for i, phone in enumerate(phones):
        create_officer(app, name=f"Approver {i}", approver=True)
        set_notify(app, f"Approver {i}", phone)
    fake_twilio.latency = 0.2  # every sender is busy while the others claim
    notifier = use_notifier(app)
    runners = [NoticeRunner(app, notifier, senders=2, idle_seconds=0.02) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        alert_id = submitted(client, officers["drafter"])
        wait_for(lambda: not {s for _o, s, _a in notice_rows(app, alert_id)} & UNFINISHED)
    finally:
        for runner in runners:
            runner.stop()

    assert sorted(m.to for m in fake_twilio.messages) == phones
    assert fake_twilio.requests == len(phones)
    assert [(status, attempts) for _o, status, attempts in notice_rows(app, alert_id)] == [
        ("sent", 1)
    ] * len(phones)
    assert len(notice_entries(app, alert_id)) == len(phones)
