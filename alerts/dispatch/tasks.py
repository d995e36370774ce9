"""Celery tasks of dispatch: thin wrappers that make workers claim work from the database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery import Task, current_app, shared_task
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.dispatch import store
from alerts.dispatch.service import record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher
from alerts.dispatch.store import DeliveryKind
from alerts.service import expire_alerts
from alerts.subscribers import mark_unreachable
from haven.celery_app import flask_app_of
from haven.db import Database, utcnow

SEND_SLICE_SECONDS = 20.0  # a send task gives its worker back after this long

log = logging.getLogger(__name__)


def resilient(name: str) -> Callable[[Callable[[], None]], Task[[], None]]:
    """A task that a database restart or failover cannot end: it retries with backoff."""
    return shared_task(
        name=name,
        autoretry_for=(SQLAlchemyError,),
        retry_backoff=1,
        retry_backoff_max=30,
        retry_jitter=True,
        max_retries=None,
    )


def _app() -> Flask:
    return flask_app_of(current_app)


@resilient("haven.dispatch.record")
def record() -> None:
    """Record every pending dispatch job, setting senders going as deliveries are recorded."""
    app = _app()
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        # Senders are kicked as soon as the first chunk is recorded (and every second while
        # the rest is), not once the whole audience is: the first SMS leaves at once.
        while record_next_job(
            session=session,
            audience=app.extensions["haven.audience"],
            on_recorded=lambda: kick_senders(app),
        ):
            pass


@resilient("haven.dispatch.send")
def send() -> None:
    """Send due SMS until none are left (or for one slice of time)."""
    if _send_slice("sms"):
        send.delay()  # more is due: continue in a fresh task


@resilient("haven.dispatch.send_channels")
def send_channels() -> None:
    """Send due deliveries to channels until none are left (or for one slice of time)."""
    if _send_slice("channel"):
        send_channels.delay()


def work_for_a_slice(app: Flask, step: Callable[[Session], object]) -> bool:
    """Run `step` (one round of claimed work, truthy while it found some) in one session for
    up to SEND_SLICE_SECONDS, so that a task gives its worker back; whether more may be due
    (the caller then continues in a fresh task)."""
    database: Database = app.extensions["haven.db"]
    deadline = time.monotonic() + SEND_SLICE_SECONDS
    with database.sessions() as session:
        while time.monotonic() < deadline:
            if not step(session):
                return False
    return True


def _send_slice(kind: DeliveryKind) -> bool:
    """Send batches of one kind for up to a slice of time; whether more may be due."""
    app = _app()
    return work_for_a_slice(
        app,
        lambda session: send_due(
            app=app,
            session=session,
            dispatcher=get_dispatcher(app),
            kind=kind,
            on_permanent=mark_unreachable,
        ),
    )


def kick_senders(app: Flask, kinds: tuple[DeliveryKind, ...] = ("sms", "channel")) -> None:
    """Ask as many workers to send as the settings allow in parallel, for each kind."""
    settings = app.extensions["haven.settings"]
    if "sms" in kinds:
        for _ in range(settings.dispatch_senders):
            send.delay()
    if "channel" in kinds:
        for _ in range(settings.dispatch_channel_senders):
            send_channels.delay()


@resilient("haven.tick")
def tick() -> None:
    """Every second: end expired alerts and re-kick work a crash may have left behind (and
    distributor pushes and approver notices whose backoff has run out).

    Celery's own lines about this task are at DEBUG (haven/worker.py); what a tick does is
    logged here, at INFO.
    """
    app = _app()
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        ended = expire_alerts(session=session)
        if ended:
            log.info("%d alert(s) expired", ended)
        if store.has_pending_jobs(session=session, now=utcnow()):
            record.delay()
        kinds: tuple[DeliveryKind, ...] = ("sms", "channel")
        due = tuple(
            k for k in kinds if store.has_due_deliveries(session=session, now=utcnow(), kind=k)
        )
        if due:
            kick_senders(app, due)
        from alerts.approvals.tasks import kick_notices_if_due  # they import this module
        from alerts.distributors.tasks import kick_pushers_if_due

        kick_pushers_if_due(app, session)
        kick_notices_if_due(app, session)
