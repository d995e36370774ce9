"""The first message leaves before the audience is recorded, and SMS go out many at a time:
recording starts with a small chunk and tells the senders at once; a sender keeps many SMS in
flight on a few kept-alive connections, and every outcome is still recorded once. SQLite and
PostgreSQL (the `app` fixture's parametrization), against the lean asyncio Twilio fake."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from alerts.dispatch import service
from alerts.dispatch.service import FIRST_CHUNK, chunks, record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher
from alerts.models import Delivery
from alerts.subscribers import mark_unreachable
from haven.db import get_session
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve
from tests.factories import create_subscribers
from tests.fakes.twilio_lean import LeanFakeTwilio

PHONES = [f"+1312555{n:04d}" for n in range(2000, 2700)]


@pytest.fixture
def lean_twilio() -> Iterator[LeanFakeTwilio]:
    with LeanFakeTwilio() as fake:
        yield fake


@pytest.fixture
def settings_overrides(lean_twilio: LeanFakeTwilio) -> dict[str, object]:
    return {
        **lean_twilio.settings(),
        "sms_rate_per_second": 1_000_000.0,
        "dispatch_batch": 500,
        "dispatch_in_flight": 32,
    }


def test_chunks_start_small_grow_and_cover_every_recipient_once() -> None:
    found = chunks(1_000_000)
    sizes = [end - start for start, end in found]
    assert found[0] == (0, FIRST_CHUNK)
    assert FIRST_CHUNK < 1000  # hundreds: the first SMS need not wait for thousands of rows
    assert sizes[:-1] == sorted(sizes[:-1])  # growing (the last holds what is left)
    assert max(sizes) == service.CHUNK
    assert [start for start, _ in found] == [0, *[end for _, end in found[:-1]]]
    assert found[-1][1] == 1_000_000
    assert chunks(0) == []


def test_senders_are_told_of_the_first_chunk_before_the_rest_is_recorded(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    create_subscribers(app, [(p, *LOOP) for p in PHONES])
    approve(client, officers)
    recorded_when_told: list[int] = []
    with app.app_context():
        session = get_session()

        def told() -> None:
            with app.extensions["haven.db"].sessions() as other:  # what a sender would see
                recorded_when_told.append(other.scalar(select(func.count()).select_from(Delivery)))

        assert record_next_job(
            session=session, audience=app.extensions["haven.audience"], on_recorded=told
        )
        total = session.scalar(select(func.count()).select_from(Delivery))
    assert total == len(PHONES)
    assert recorded_when_told[0] == FIRST_CHUNK  # committed, and nothing more yet


def test_a_sender_keeps_many_sms_in_flight_on_kept_alive_connections_and_records_each_once(
    app: Flask, client: FlaskClient, officers: dict[str, str], lean_twilio: LeanFakeTwilio
) -> None:
    create_subscribers(app, [(p, *LOOP) for p in PHONES])
    approve(client, officers)
    lean_twilio.latency = 0.02  # each answer takes a while: only many in flight overlap
    with app.app_context():
        session = get_session()
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            pass
        claimed = []
        while count := send_due(
            app=app,
            session=session,
            dispatcher=get_dispatcher(app),
            kind="sms",
            on_permanent=mark_unreachable,
        ):
            claimed.append(count)
        statuses = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        provider_ids = session.scalars(select(Delivery.provider_id)).all()
    assert claimed == [500, 200]
    assert Counter(lean_twilio.recipients) == Counter(PHONES)  # each exactly once
    assert statuses == {"queued": len(PHONES)}
    assert len(set(provider_ids)) == len(PHONES)
    # Many in flight at once, on a few connections kept open: not one connection per message.
    assert lean_twilio.most_pending > 1
    assert lean_twilio.most_pending <= 32  # HAVEN_DISPATCH_IN_FLIGHT
    assert lean_twilio.connections <= 32
