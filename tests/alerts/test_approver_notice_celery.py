"""Approver notices with Celery workers over the real Redis broker, on PostgreSQL: the notice
task runs on the distributors' queue, kicked after the submit and by the beat's tick.

Required under CI=true (PostgreSQL and Redis); each run uses its own queues.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient

from alerts.dispatch.tasks import tick
from haven.celery_app import distributor_queue
from tests.alerts.test_approver_notice import (
    APPROVER_PHONE,
    notice_entries,
    notice_rows,
    set_notify,
    submitted,
)
from tests.alerts.test_dispatch import wait_for
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """Celery workers need a shared server database."""
    return postgres_database


@pytest.fixture
def settings_overrides(redis_url: str, fake_twilio: FakeTwilio) -> dict[str, object]:
    return {
        "broker_url": redis_url,
        "redis_url": redis_url,
        "celery_queue": f"haven-test-{secrets.token_hex(4)}",
        **fake_twilio.settings(),
    }


def purge(app: Flask, queue: str) -> int:
    """Empty one of this test's queues; how many tasks it held."""
    with app.extensions["haven.celery"].connection_for_write() as connection:
        purged: int = connection.default_channel.queue_purge(queue) or 0
    return purged


@pytest.fixture
def celery(app: Flask) -> Iterator[Celery]:
    """The app's Celery; its queues are emptied afterwards."""
    yield app.extensions["haven.celery"]
    settings = app.extensions["haven.settings"]
    for queue in (settings.celery_queue, distributor_queue(settings)):
        purge(app, queue)


def distributors_worker(app: Flask, celery: Celery) -> AbstractContextManager[Any]:
    """A worker that takes only the distributors' queue."""
    return start_worker(
        celery,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
        queues=[distributor_queue(app.extensions["haven.settings"])],
    )


def test_a_celery_worker_on_the_distributors_queue_sends_the_notice_of_a_submit(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    celery: Celery,
) -> None:
    queue = distributor_queue(app.extensions["haven.settings"])
    assert celery.amqp.router.route({}, "haven.approvals.send_notices")["queue"].name == queue
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    with distributors_worker(app, celery):
        alert_id = submitted(client, officers["drafter"])  # the API kicks the workers at once
        wait_for(lambda: notice_rows(app, alert_id) == [(approver, "sent", 1)], timeout=30)
    assert [m.to for m in fake_twilio.messages] == [APPROVER_PHONE]
    assert notice_entries(app, alert_id) == [
        ("approver_notified", {"approver": approver, "channel": "sms"})
    ]


def test_the_beat_tick_sends_a_notice_whose_kick_was_lost(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    celery: Celery,
) -> None:
    approver = set_notify(app, "Approver", APPROVER_PHONE)
    alert_id = submitted(client, officers["drafter"])
    # The submit's kicks are lost.
    assert purge(app, distributor_queue(app.extensions["haven.settings"])) > 0
    with distributors_worker(app, celery):
        assert notice_rows(app, alert_id) == [(approver, "pending", 0)]
        tick.apply()  # what beat runs every second
        wait_for(lambda: notice_rows(app, alert_id) == [(approver, "sent", 1)], timeout=30)
    assert [m.to for m in fake_twilio.messages] == [APPROVER_PHONE]
