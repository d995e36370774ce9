"""Celery tasks of approver notices: thin wrappers that make workers claim notices from the
database. They run on the distributors' queue (haven/celery_app.py), so a notice never waits
behind an alert's SMS and channel sends."""

from __future__ import annotations

from celery import current_app
from flask import Flask
from sqlalchemy.orm import Session

from alerts.approvals import store
from alerts.approvals.service import SENDERS, get_notifier, send_due_notices
from alerts.dispatch.tasks import resilient, work_for_a_slice
from haven.celery_app import flask_app_of
from haven.db import utcnow


@resilient("haven.approvals.send_notices")
def send_notices() -> None:
    """Send due notices until none are left (or for one slice of time)."""
    app = flask_app_of(current_app)
    notifier = get_notifier(app)
    more = work_for_a_slice(
        app, lambda session: send_due_notices(app=app, session=session, notifier=notifier)
    )
    if more:
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
