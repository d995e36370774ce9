"""A sender's lease holds while it works: it claims no more than the shared rate lets through
in half a lease, saves outcomes as they come and extends its lease on what it has yet to send,
so no batch is taken over and sent twice while its sender is still at it. The rate limit and
the leases run on a clock ten times as fast as real time: 150 seconds of sending take 15."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from alerts.dispatch.bucket import LocalBucket
from alerts.dispatch.runner import DispatchRunner
from alerts.dispatch.service import claim_size
from alerts.dispatch.setup import get_dispatcher
from alerts.subscribers import mark_unreachable
from haven.db import utcnow
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve, counts, no_wait, use_dispatcher, wait_for
from tests.factories import create_subscribers
from tests.fakes.clock import ScaledClock
from tests.fakes.twilio_server import FakeTwilio

PHONES = [f"+1312555{n:04d}" for n in range(600, 750)]


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    """One long code: 1 SMS a second, the default batch and lease, two senders."""
    return {
        **fake_twilio.settings(),
        "sms_rate_per_second": 1.0,
        "dispatch_batch": 100,
        "dispatch_lease_seconds": 60.0,
        "dispatch_senders": 2,
    }


class TogetherBucket:
    """The shared rate, holding each sender's first token until both senders ask for one:
    both have claimed a batch, and they share the rate from there. (It holds the sender
    threads themselves: the SMS go out on the process's send loop.)"""

    def __init__(self, bucket: LocalBucket, senders: int) -> None:
        self.bucket = bucket
        self.rate = bucket.rate
        self._start = threading.Barrier(senders, timeout=30)
        self._local = threading.local()

    def take(self, count: int = 1) -> None:
        if not getattr(self._local, "started", False):
            self._local.started = True
            self._start.wait()
        self.bucket.take(count)


def sped_up_utc(clock: ScaledClock) -> Callable[[], datetime.datetime]:
    """UTC as the dispatcher reads it: from now on, as fast as the clock."""
    start = utcnow()
    return lambda: start + datetime.timedelta(seconds=clock.monotonic())


def test_a_claim_takes_no_more_than_the_shared_rate_sends_in_half_a_lease(app: Flask) -> None:
    dispatcher = get_dispatcher(app)
    assert claim_size(dispatcher=dispatcher, kind="sms") == 30  # 1/s x 60 s / 2, not 100
    assert claim_size(dispatcher=dispatcher, kind="channel") == 100  # channels share no rate
    slow = dataclasses.replace(dispatcher, bucket=LocalBucket(0.01))
    assert claim_size(dispatcher=slow, kind="sms") == 1  # at least one


def test_two_senders_at_one_sms_a_second_send_each_of_150_people_exactly_one_message(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(p, *LOOP) for p in PHONES])
    clock = ScaledClock(10.0)
    use_dispatcher(
        app,
        bucket=TogetherBucket(LocalBucket(1.0, clock=clock), senders=2),
        clock=sped_up_utc(clock),
        backoff=no_wait,
    )
    runner = DispatchRunner(
        app, get_dispatcher(app), senders=2, idle_seconds=0.01, on_permanent=mark_unreachable
    )
    runner.start()
    try:
        approve(client, officers)
        wait_for(lambda: counts(app) == {"queued": len(PHONES)}, timeout=60)
    finally:
        runner.stop()
    sent = Counter(m.to for m in fake_twilio.messages)
    repeats = sum(n - 1 for n in sent.values())
    assert sent == Counter(PHONES), f"{repeats} repeats to {len(sent)} people"  # once each
    assert clock.monotonic() >= len(PHONES) - 1  # 150 messages took 150 seconds of the clock


def test_a_late_save_leaves_alone_a_delivery_another_worker_took_over(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    from sqlalchemy import select, update

    from alerts.dispatch import store
    from alerts.dispatch.service import record_next_job
    from alerts.models import Delivery
    from haven.db import get_session

    create_subscribers(app, [(p, *LOOP) for p in PHONES[:2]])
    approve(client, officers)
    lease = datetime.timedelta(seconds=60)
    with app.app_context():
        session = get_session()
        app.extensions["haven.audience"].catch_up(session)  # ready: jobs may be recorded
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            pass
        now = utcnow()
        mine, theirs = store.claim_deliveries(
            session=session, now=now, kind="sms", limit=2, lease=lease
        )
        # Worker A's lease ran out and worker B claimed `theirs`, later, with a lease of its own.
        session.execute(
            update(Delivery)
            .where(Delivery.id == theirs.id)
            .values(lease_until=now + 3 * lease, attempts=Delivery.attempts + 1)
        )
        session.commit()
        late = [
            {"id": claim.id, "status": "pending", "lease_until": None} for claim in (mine, theirs)
        ]
        store.save_outcomes(session=session, outcomes=late, held_until=now + lease)
        session.commit()
        rows = {i: status for i, status in session.execute(select(Delivery.id, Delivery.status))}
    assert rows == {mine.id: "pending", theirs.id: "sending"}  # B's row is B's to record
