"""Background work. By default it runs in-process: a thread for periodic jobs and the
dispatch threads (alerts/dispatch/runner.py). With `HAVEN_BROKER_URL` set, Celery workers
(`haven worker`) do the same work, and web processes only enqueue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from flask import Flask

from haven.settings import Settings

log = logging.getLogger(__name__)

Job = Callable[[Flask], None]


def periodic_jobs() -> list[Job]:
    """Every domain's periodic jobs: each takes the app and does one bounded round of work."""
    from alerts.tasks import PERIODIC as ALERT_JOBS
    from takedown.tasks import PERIODIC as TAKEDOWN_JOBS

    return [*ALERT_JOBS, *TAKEDOWN_JOBS]


def run_once(app: Flask) -> None:
    """Run one round of every periodic job, logging (not raising) their failures."""
    for job in periodic_jobs():
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


def warm_audience(app: Flask) -> None:
    """Load the audience index now, so the first alert does not wait for it (seconds for
    millions of locations, or a map of the shared snapshot)."""
    from alerts.audience import LiveAudience
    from haven.db import Database

    database: Database = app.extensions["haven.db"]
    live: LiveAudience = app.extensions["haven.audience"]
    try:
        with database.sessions() as session:
            live.catch_up(session)
    except Exception:
        log.exception("could not load the audience index at start; it loads on first use")


class Stoppable(Protocol):
    """A background runner: its threads run until `stop()`."""

    def stop(self) -> None:
        """Stop, waiting for its threads."""
        ...


class Runners:
    """Background runners started together, stopped together."""

    def __init__(self, *runners: Stoppable) -> None:
        self.runners = runners

    def stop(self) -> None:
        """Stop each runner, waiting for its threads."""
        for runner in self.runners:
            runner.stop()


def start_dispatch(app: Flask) -> Runners:
    """Start the in-process dispatch threads, the distributors' pushers and the approvers'
    notice senders; returns them (`.stop()` stops them all)."""
    from alerts.approvals.runner import NoticeRunner
    from alerts.approvals.service import get_notifier
    from alerts.dispatch.runner import DispatchRunner
    from alerts.dispatch.setup import get_dispatcher, warm_dispatch
    from alerts.distributors.runner import PushRunner
    from alerts.distributors.setup import get_pusher
    from alerts.subscribers import mark_unreachable

    settings: Settings = app.extensions["haven.settings"]
    warm_audience(app)
    warm_dispatch(app)
    runner = DispatchRunner(
        app,
        get_dispatcher(app),
        senders=settings.dispatch_senders,
        channel_senders=settings.dispatch_channel_senders,
        on_permanent=mark_unreachable,
    )
    runner.start()
    pushers = PushRunner(app, get_pusher(app), senders=settings.distributor_senders)
    pushers.start()
    notices = NoticeRunner(app, get_notifier(app))
    notices.start()
    return Runners(runner, pushers, notices)


def start_in_process(app: Flask) -> threading.Thread | None:
    """Start the in-process worker, unless a broker hands the work to Celery workers."""
    settings: Settings = app.extensions["haven.settings"]
    if settings.broker_url:
        return None
    start_dispatch(app)
    thread = threading.Thread(target=run_forever, args=(app,), name="haven-worker", daemon=True)
    thread.start()
    return thread


# Celery tasks that run every second with nothing to do most times (the beat's ticks).
PERIODIC_TASKS = frozenset({"haven.tick", "haven.takedown.sequence_feed"})
# The loggers of Celery's per-task lines: received, succeeded, and beat's "Sending due task".
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")


class PeriodicTasksAtDebug(logging.Filter):
    """Demotes Celery's INFO lines about PERIODIC_TASKS to DEBUG: one tick a second would
    otherwise log two or three lines a second. Work a tick sets going logs as usual."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._is_periodic(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _is_periodic(record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)  # Celery passes its format's context here
        if isinstance(data, dict):
            return data.get("name") in PERIODIC_TASKS
        args = record.args if isinstance(record.args, tuple) else ()
        return any(a in PERIODIC_TASKS for a in args if isinstance(a, str))


_PERIODIC_FILTER = PeriodicTasksAtDebug()


def quiet_periodic_tasks() -> None:
    """Log Celery's lines about periodic tasks at DEBUG (idempotent)."""
    for name in CELERY_TASK_LOGGERS:
        logging.getLogger(name).addFilter(_PERIODIC_FILTER)  # a no-op once added


def worker_arguments(settings: Settings, *, concurrency: int, beat: bool) -> list[str]:
    """The Celery worker's command line (both of Haven's queues); with `beat`, its schedule
    under instance_path."""
    from haven.celery_app import distributor_queue

    arguments = [
        "worker",
        "--loglevel=INFO",
        "--pool=threads",
        f"--concurrency={concurrency}",
        f"--queues={settings.celery_queue},{distributor_queue(settings)}",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        # Beat remembers its last runs in a file; keep it with the other instance data.
        arguments += ["--beat", f"--schedule={settings.beat_schedule_path}"]
    return arguments


def run_worker(app: Flask, *, concurrency: int, beat: bool) -> None:
    """`haven worker`: a Celery worker when a broker is configured, else the in-process one."""
    settings: Settings = app.extensions["haven.settings"]
    if not settings.broker_url:
        log.info("no HAVEN_BROKER_URL: running the in-process worker in the foreground")
        start_dispatch(app)
        run_forever(app)
        return
    from haven.celery_app import make_celery

    celery = app.extensions.get("haven.celery") or make_celery(app)
    warm_audience(app)
    from alerts.dispatch.setup import warm_dispatch

    warm_dispatch(app)
    quiet_periodic_tasks()
    if beat:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
    celery.worker_main(worker_arguments(settings, concurrency=concurrency, beat=beat))
