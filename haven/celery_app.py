"""Celery wiring: one Celery app bound to one Haven app, with the broker from settings.

The database stays the queue of record: tasks only tell workers to go and claim work, so a
lost or repeated task never loses or doubles a delivery. A beat tick every second re-kicks
anything left behind by a crash.
"""

from __future__ import annotations

from celery import Celery
from flask import Flask
from kombu import Exchange, Queue
from sqlalchemy.orm import Session

from haven.health import Readiness, add_readiness_check
from haven.settings import Settings

TASK_MODULES = [
    "alerts.dispatch.tasks",
    "alerts.distributors.tasks",
    "alerts.approvals.tasks",
    "takedown.tasks",
]


def distributor_queue(settings: Settings) -> str:
    """The Celery queue of CAP pushes to distributors and of notices to approvers, apart from
    SMS and channel sends."""
    return f"{settings.celery_queue}.distributors"


def _queue(name: str) -> Queue:
    # An exchange and routing key of its own: queues sharing one would each get every task.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def make_celery(app: Flask) -> Celery:
    """A Celery app for this Haven app (its broker, its queue, its periodic tick)."""
    settings: Settings = app.extensions["haven.settings"]
    if not settings.broker_url:
        raise RuntimeError("HAVEN_BROKER_URL is not set")
    celery = Celery("haven", broker=settings.broker_url, include=TASK_MODULES)
    celery.conf.update(
        task_default_queue=settings.celery_queue,
        task_queues=(_queue(settings.celery_queue), _queue(distributor_queue(settings))),
        task_routes={
            "haven.distributors.*": {"queue": distributor_queue(settings)},
            "haven.approvals.*": {"queue": distributor_queue(settings)},
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "tick": {"task": "haven.tick", "schedule": 1.0},
            # The feed sequencer's safety net (takedown/tasks.py).
            "takedown-sequence": {"task": "haven.takedown.sequence_feed", "schedule": 1.0},
        },
    )
    celery.flask_app = app  # type: ignore[attr-defined]
    app.extensions["haven.celery"] = celery

    def broker(_session: Session) -> Readiness:
        return Readiness.READY if broker_is_reachable(celery) else Readiness.UNAVAILABLE

    add_readiness_check(app, name="broker", check=broker)
    return celery


def broker_is_reachable(celery: Celery, *, timeout: int = 2) -> bool:
    """Whether the broker accepts a connection now: one try, at most `timeout` seconds."""
    try:
        with celery.connection_for_write() as connection:
            connection.connect_timeout = timeout
            # max_retries=0: one attempt. kombu's default retries for minutes.
            connection.ensure_connection(max_retries=0, timeout=timeout)
    except Exception:  # each transport raises its own kinds
        return False
    return True


def flask_app_of(celery: Celery) -> Flask:
    """The Haven app a Celery app was made for."""
    app: Flask = celery.flask_app  # type: ignore[attr-defined]
    return app
