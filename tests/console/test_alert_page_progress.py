"""The delivery progress the alert page follows: what is still to send, the send rate and the
expected time to finish, from recording to the last message Twilio (a fake on loopback)
takes."""

from __future__ import annotations

import datetime

import pytest
from flask import Flask
from sqlalchemy import select, update

from alerts.dispatch.service import progress, record_next_job
from alerts.models import Delivery
from haven.db import get_session, write
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import dispatch
from tests.console.test_home import ALERTS, drafted
from tests.factories import bearer, create_subscribers
from tests.fakes.twilio_server import FakeTwilio

PHONES = ["+13125550101", "+13125550102", "+13125550103"]


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {**fake_twilio.settings(), "sms_rate_per_second": 500.0}


def test_progress_gives_what_remains_the_rate_and_the_time_to_finish(
    app: Flask, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(phone, *LOOP) for phone in PHONES])
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe", submit=True)
    approved = api.post(
        f"{ALERTS}/{alert['id']}/approve",
        json={"revision": alert["revision"]},
        headers=bearer(officers["approver"]),
    )
    assert approved.status_code == 200, approved.json
    url = f"{ALERTS}/{alert['id']}/deliveries"
    before = api.get(url, headers=bearer(officers["drafter"])).json
    assert before["versions"] == []
    assert before["remaining"] == 0
    assert before["rate_per_minute"] is None
    assert before["eta_seconds"] is None

    with app.app_context():
        session = get_session()
        while dispatch_one_record(app):
            pass
        recorded = progress(session=session, alert_id=alert["id"])
        assert recorded["remaining"] == 3
        assert recorded["versions"][0]["remaining"] == 3
        assert recorded["rate_per_minute"] is None  # nothing sent yet: no pace to tell

    dispatch(app)
    assert len(fake_twilio.messages) == 3
    sent = api.get(url, headers=bearer(officers["drafter"])).json
    assert sent["remaining"] == 0
    assert sent["versions"][0]["by_channel"]["sms"] == {"queued": 3}
    assert sent["rate_per_minute"] > 0
    assert sent["eta_seconds"] == 0
    assert sent["first_sent_at"] is not None  # the existing fields are kept


def dispatch_one_record(app: Flask) -> bool:
    """Record one queued version's deliveries without sending any."""
    job = record_next_job(session=get_session(), audience=app.extensions["haven.audience"])
    return job is not None


def test_a_version_halfway_sent_expects_the_rest_at_its_pace(
    app: Flask, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(phone, *LOOP) for phone in PHONES])
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe", submit=True)
    api.post(
        f"{ALERTS}/{alert['id']}/approve",
        json={"revision": alert["revision"]},
        headers=bearer(officers["approver"]),
    )
    dispatch(app)
    with app.app_context():
        session = get_session()
        done = progress(session=session, alert_id=alert["id"])
        first = datetime.datetime.fromisoformat(done["first_sent_at"])
        # Read a minute after the first send, as if one of three were still waiting: the
        # pace is what was done over the time since the first send, and the rest follows it.
        one = session.scalars(
            select(Delivery.id).where(Delivery.alert_id == alert["id"]).limit(1)
        ).one()
        with write(session):
            session.execute(
                update(Delivery).where(Delivery.id == one).values(status="pending", sent_at=None)
            )
        later = progress(
            session=session, alert_id=alert["id"], now=first + datetime.timedelta(minutes=1)
        )
    assert later["remaining"] == 1
    assert later["rate_per_minute"] == 2.0
    assert later["eta_seconds"] == 30.0
