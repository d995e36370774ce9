"""The worker: where Celery beat keeps its schedule, and what a periodic tick logs (DEBUG when
idle, INFO for work done)."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from alerts.dispatch.tasks import record, tick
from alerts.models import Alert
from haven.db import get_session, utcnow
from haven.worker import quiet_periodic_tasks, worker_arguments
from tests.alerts.test_alerts_api import send
from tests.conftest import make_settings


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """A broker in memory: tasks run here, eagerly, and nothing leaves the process."""
    return {"broker_url": "memory://"}


def test_beat_keeps_its_schedule_under_the_instance_path(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", instance_path=str(tmp_path))
    arguments = worker_arguments(settings, concurrency=2, beat=True)
    assert f"--schedule={tmp_path / 'celerybeat-schedule'}" in arguments
    assert not any(
        a.startswith("--schedule") for a in worker_arguments(settings, concurrency=2, beat=False)
    )


def celery_info(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("celery") and r.levelno >= logging.INFO
    ]


def test_an_idle_tick_logs_nothing_at_info(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    quiet_periodic_tasks()
    with caplog.at_level(logging.INFO):
        tick.apply().get()
        # Celery beat's line for each tick it sends.
        logging.getLogger("celery.beat").info(
            "Scheduler: Sending due task %s (%s)", "tick", "haven.tick"
        )
    assert celery_info(caplog) == []
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_a_tick_is_still_logged_at_debug(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    quiet_periodic_tasks()
    with caplog.at_level(logging.DEBUG, logger="celery.app.trace"):
        tick.apply().get()
    assert any("haven.tick" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_other_tasks_are_still_logged_at_info(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    quiet_periodic_tasks()
    with caplog.at_level(logging.INFO):
        record.apply().get()
    assert any("haven.dispatch.record" in line for line in celery_info(caplog))


def test_a_tick_that_expires_an_alert_says_so_at_info(
    app: Flask, client: FlaskClient, officers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    send(client, officers)
    with app.app_context():
        session = get_session()
        session.execute(update(Alert).values(expires=utcnow() - datetime.timedelta(minutes=1)))
        session.commit()
    quiet_periodic_tasks()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tick.apply().get()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        "1 alert(s) expired"
    ]
