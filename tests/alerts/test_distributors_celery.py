"""Distributor pushes with Celery workers over the real Redis broker, on PostgreSQL: the push
task runs on a queue of its own, apart from SMS and channel sends.

Required under CI=true (PostgreSQL and Redis); each run uses its own queues.
"""

from __future__ import annotations

import secrets

import pytest
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient

from haven.celery_app import distributor_queue
from tests.alerts.test_dispatch import approve, wait_for
from tests.alerts.test_distributors import register, verify
from tests.fakes.cap_receiver import CapReceiver

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """Celery workers need a shared server database."""
    return postgres_database


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, object]:
    return {
        "broker_url": redis_url,
        "redis_url": redis_url,
        "celery_queue": f"haven-test-{secrets.token_hex(4)}",
        "allow_private_channel_hosts": True,
    }


def test_a_celery_worker_on_the_distributors_queue_alone_pushes_the_alert(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    celery = app.extensions["haven.celery"]
    queue = distributor_queue(app.extensions["haven.settings"])
    assert celery.amqp.router.route({}, "haven.distributors.push")["queue"].name == queue
    secret = register(app, cap_receiver.push_url())
    # A worker that takes only pushes: they never wait behind SMS and channel sends.
    with start_worker(
        celery,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
        queues=[queue],
    ):
        approve(client, officers)  # the API tells the workers at once
        wait_for(lambda: len(cap_receiver.pushes) == 1, timeout=30)
    verify(cap_receiver.pushes[0], secret)
    # The dispatch job's task waits on the main queue, which no worker here reads: drop it.
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.extensions["haven.settings"].celery_queue)
