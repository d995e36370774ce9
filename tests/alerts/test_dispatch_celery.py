"""Dispatch on PostgreSQL with Celery workers over the real Redis broker, and what survives
a worker killed with SIGKILL or the database dropping every connection mid-dispatch.

Required under CI=true (PostgreSQL and Redis); each run uses its own queue and rate key.
The worker that takes over from a killed one runs a lease ahead on an injected clock, so no
test waits out a lease on the real clock.
"""

from __future__ import annotations

import datetime
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from alerts.dispatch.bucket import LocalBucket
from alerts.dispatch.tasks import tick
from haven.db import utcnow
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve, use_dispatcher, wait_for
from tests.factories import create_subscribers, serving
from tests.fakes.clock import VirtualClock
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PHONES = [f"+1312555{n:04d}" for n in range(1000, 1400)]


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """These tests run on PostgreSQL only: Celery workers need a shared server database."""
    return postgres_database


@pytest.fixture
def settings_overrides(
    fake_twilio: FakeTwilio, public_port: int, redis_url: str
) -> dict[str, object]:
    run = secrets.token_hex(4)
    return {
        "public_url": f"http://127.0.0.1:{public_port}",
        **fake_twilio.settings(),
        "broker_url": redis_url,
        "redis_url": redis_url,
        "celery_queue": f"haven-test-{run}",
        "sms_rate_per_second": 100.0,
        "dispatch_batch": 20,
        "dispatch_lease_seconds": 3.0,
    }


@pytest.fixture
def served(app: Flask, public_port: int) -> Iterator[Flask]:
    """The app on its public URL (Twilio's status callbacks need it)."""
    with serving(app, public_port):
        yield app


def test_celery_workers_deliver_an_alert_to_everyone_once(
    served: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(served, [(p, *LOOP) for p in PHONES[:60]])
    celery = served.extensions["haven.celery"]
    with start_worker(
        celery,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
    ):
        # This worker runs no beat: approval's own task, and the recorder's kick after the
        # first chunk, are all that start the sending (how fast: bench.dispatch, not here).
        approve(client, officers)
        wait_for(lambda: len(fake_twilio.messages) >= 60, timeout=60)
        time.sleep(0.5)
    assert sorted(m.to for m in fake_twilio.messages) == sorted(PHONES[:60])


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "haven.cli", "worker", "--concurrency", "4"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _environment(app: Flask) -> dict[str, str]:
    settings = app.extensions["haven.settings"]
    env = {**os.environ, "HAVEN_DATABASE_URL": app.extensions["haven.db"].url}
    for name in (
        "public_url",
        "twilio_api_base",
        "broker_url",
        "redis_url",
        "celery_queue",
        "sms_rate_per_second",
        "dispatch_batch",
        "dispatch_lease_seconds",
    ):
        env[f"HAVEN_{name.upper()}"] = str(getattr(settings, name))
    env["TWILIO_ACCOUNT_SID"] = settings.twilio_account_sid
    env["TWILIO_AUTH_TOKEN"] = settings.twilio_auth_token
    env["TWILIO_FROM_NUMBER"] = settings.twilio_from_number
    # The workers' files (the audience snapshot) go where the app's go, never into instance/.
    env["HAVEN_AUDIENCE_SNAPSHOT_DIR"] = str(settings.audience_snapshot_dir or "")
    return env


def test_a_worker_killed_mid_dispatch_loses_no_one_and_repeats_at_most_its_batch(
    served: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    create_subscribers(served, [(p, *LOOP) for p in PHONES])
    worker = _worker(_environment(served), tmp_path / "worker.log")
    try:
        approve(client, officers)
        wait_for(lambda: len(fake_twilio.messages) >= 100, timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # no chance to finish its batch
        worker.wait(timeout=10)
    killed_at = len(fake_twilio.messages)
    assert killed_at < len(PHONES), "the worker finished before it could be killed"

    # Another worker takes over, on a clock one lease ahead: the dead worker's claims are
    # free at once rather than after a real wait. Its rate limit keeps a virtual clock.
    lease = datetime.timedelta(seconds=served.extensions["haven.settings"].dispatch_lease_seconds)
    use_dispatcher(
        served,
        clock=lambda: utcnow() + lease,
        bucket=LocalBucket(100.0, clock=VirtualClock()),
    )
    with start_worker(
        served.extensions["haven.celery"],
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
    ):
        tick.delay()  # what the beat does every second: re-kick what is due
        wait_for(lambda: {m.to for m in fake_twilio.messages} >= set(PHONES), timeout=60)
        time.sleep(0.5)  # nothing more arrives
    sent = Counter(m.to for m in fake_twilio.messages)
    duplicates = sum(n - 1 for n in sent.values())
    in_flight = 4 * 20  # concurrency x batch: what one dead worker can have claimed
    print(
        f"\nSIGKILL after {killed_at} of {len(PHONES)} messages: {duplicates} duplicates "
        f"(bound {in_flight})"
    )
    assert set(sent) == set(PHONES)
    assert duplicates <= in_flight


def test_the_database_dropping_every_connection_mid_dispatch_loses_nothing(
    served: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    postgres_database: str,
) -> None:
    create_subscribers(served, [(p, *LOOP) for p in PHONES[:200]])
    celery = served.extensions["haven.celery"]
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    name = admin.url.database
    with start_worker(
        celery,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="ERROR",
        shutdown_timeout=20,
    ):
        approve(client, officers)
        wait_for(lambda: len(fake_twilio.messages) >= 40, timeout=60)
        # What a database restart looks like to Haven: every connection cut at once.
        with admin.connect() as connection:
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar()
        wait_for(lambda: {m.to for m in fake_twilio.messages} >= set(PHONES[:200]), timeout=120)
    admin.dispose()
    assert cut is not None
    assert cut > 0
    assert {m.to for m in fake_twilio.messages} == set(PHONES[:200])
