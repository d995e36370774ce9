"""Take It Down's background job: the feed sequencer's safety net.

Every submission and withdrawal runs the sequencer right after it commits. This job runs it
too, once a second (the in-process worker, or Celery beat), so a case queued by a process that
died before sequencing still reaches the feed.
"""

from __future__ import annotations

import logging

from celery import current_app as current_celery
from celery import shared_task
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from haven.celery_app import flask_app_of
from haven.db import Database
from takedown import service

log = logging.getLogger(__name__)


def sequence_feed(app: Flask) -> None:
    """Give queued feed changes their cursors (nothing to do, most times)."""
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        appended = service.sequence_feed(session=session)
    if appended:
        log.info("feed sequencer: %d change(s) were waiting for their cursors", appended)


PERIODIC = [sequence_feed]


@shared_task(
    name="haven.takedown.sequence_feed",
    autoretry_for=(SQLAlchemyError,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=None,
)
def sequence() -> None:
    """Celery beat's run of the feed sequencer, once a second."""
    sequence_feed(flask_app_of(current_celery))
