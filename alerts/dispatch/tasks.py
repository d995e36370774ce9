"""Celery tasks of dispatch: thin wrappers that make workers claim work from the database."""

from __future__ import annotations

import time
from collections.abc import Callable

from celery import Task, current_app, shared_task
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from alerts.dispatch import store
from alerts.dispatch.service import record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher
from alerts.service import expire_alerts
from alerts.subscribers import mark_unreachable
from haven.celery_app import flask_app_of
from haven.db import Database, utcnow

SEND_SLICE_SECONDS = 20.0  # a send task gives its worker back after this long


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
    """Record every pending dispatch job, then set senders going."""
    app = _app()
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            kick_senders(app)


@resilient("haven.dispatch.send")
def send() -> None:
    """Send due deliveries until none are left (or for one slice of time)."""
    app = _app()
    database: Database = app.extensions["haven.db"]
    deadline = time.monotonic() + SEND_SLICE_SECONDS
    with database.sessions() as session:
        while time.monotonic() < deadline:
            if not send_due(
                app=app,
                session=session,
                dispatcher=get_dispatcher(app),
                on_permanent=mark_unreachable,
            ):
                return
    send.delay()  # more is due: continue in a fresh task


def kick_senders(app: Flask) -> None:
    """Ask as many workers to send as the settings allow in parallel."""
    for _ in range(app.extensions["haven.settings"].dispatch_senders):
        send.delay()


@resilient("haven.tick")
def tick() -> None:
    """Every second: end expired alerts and re-kick work a crash may have left behind."""
    app = _app()
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        expire_alerts(session=session)
        if store.has_pending_jobs(session=session, now=utcnow()):
            record.delay()
        if store.has_due_deliveries(session=session, now=utcnow()):
            kick_senders(app)
