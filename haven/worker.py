"""Background work. By default an in-process thread runs the jobs; with `HAVEN_BROKER_URL`
set, Celery workers do instead and the in-process thread stays off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from haven.app import get_settings

log = logging.getLogger(__name__)

# Periodic jobs: each takes the app and does one bounded round of work.
PERIODIC: list[Callable[[Flask], None]] = []


def run_once(app: Flask) -> None:
    """Run one round of every periodic job, logging (not raising) their failures."""
    for job in PERIODIC:
        try:
            job(app)
        except Exception:
            log.exception("background job %s failed; it will run again", job.__name__)


def run_forever(app: Flask, *, interval: float = 1.0, stop: threading.Event | None = None) -> None:
    """Run the periodic jobs every `interval` seconds until `stop` is set."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        run_once(app)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def start_in_process(app: Flask) -> threading.Thread | None:
    """Start the in-process worker thread, unless a broker hands the work to Celery."""
    with app.app_context():
        if get_settings().broker_url:
            return None
    thread = threading.Thread(target=run_forever, args=(app,), name="haven-worker", daemon=True)
    thread.start()
    return thread
