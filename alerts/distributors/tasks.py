"""Celery tasks of distributors: thin wrappers that make workers claim pushes from the
database. They run on a queue of their own (`<HAVEN_CELERY_QUEUE>.distributors`,
haven/celery_app.py), so pushes never wait behind SMS and channel sends."""

from __future__ import annotations

from celery import current_app
from flask import Flask
from sqlalchemy.orm import Session

from alerts.dispatch.tasks import resilient, work_for_a_slice
from alerts.distributors import store
from alerts.distributors.service import push_due
from alerts.distributors.setup import get_pusher
from haven.celery_app import flask_app_of
from haven.db import utcnow


@resilient("haven.distributors.push")
def push() -> None:
    """Make due pushes until none are left (or for one slice of time)."""
    app = flask_app_of(current_app)
    pusher = get_pusher(app)
    if work_for_a_slice(app, lambda session: push_due(app=app, session=session, pusher=pusher)):
        push.delay()  # more may be due: continue in a fresh task


def kick_pushers(app: Flask) -> None:
    """Ask as many workers to push as the settings allow in parallel."""
    for _ in range(app.extensions["haven.settings"].distributor_senders):
        push.delay()


def kick_pushers_if_due(app: Flask, session: Session) -> None:
    """Kick the pushers when a push is due (the beat's tick: work a crash left behind, and
    retries whose backoff has run out)."""
    if store.has_due_pushes(session=session, now=utcnow()):
        kick_pushers(app)
