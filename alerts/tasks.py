"""Background jobs of the alerts domain: thin wrappers around service functions."""

from __future__ import annotations

import logging

from flask import Flask

from alerts import service
from haven.db import Database

log = logging.getLogger(__name__)


def expire_alerts(app: Flask) -> None:
    """End every active alert whose expiry has passed."""
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        ended = service.expire_alerts(session=session)
    if ended:
        log.info("%d alert(s) expired", ended)


PERIODIC = [expire_alerts]
