"""Celery tasks of approver notices: thin wrappers that make workers claim notices from the
database. They run on the distributors' queue (haven/celery_app.py), so a notice never waits
behind an alert's SMS and channel sends."""

from __future__ import annotations

import time

from celery import current_app
from flask import Flask
from sqlalchemy.orm import Session

from alerts.approvals import store
from alerts.approvals.service import SENDERS, get_notifier, send_due_notices
from alerts.dispatch.tasks import resilient
from haven.celery_app import flask_app_of
from haven.db import Database, utcnow

SEND_SLICE_SECONDS = 20.0  # a notice task gives its worker back after this long


@resilient("haven.approvals.send_notices")
def send_notices() -> None:
    """Send due notices until none are left (or for one slice of time)."""
    app = flask_app_of(current_app)
    database: Database = app.extensions["haven.db"]
    notifier = get_notifier(app)
    deadline = time.monotonic() + SEND_SLICE_SECONDS
    with database.sessions() as session:
        while time.monotonic() < deadline:
            if not send_due_notices(app=app, session=session, notifier=notifier):
                return
    send_notices.delay()  # more may be due: continue in a fresh task


def kick_notices(app: Flask) -> None:
    """Ask `SENDERS` workers to send notices (one slow channel holds up one of them)."""
    for _ in range(SENDERS):
        send_notices.delay()


def kick_notices_if_due(app: Flask, session: Session) -> None:
    """Kick the notice senders when a notice is due (the beat's tick: work a crash left
    behind, retries whose backoff has run out, and submits whose kick was lost)."""
    if store.has_due_notices(session=session, now=utcnow()):
        kick_notices(app)
