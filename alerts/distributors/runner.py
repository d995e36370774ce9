"""The in-process pushers: a few threads beside the web server that push CAP to distributors,
apart from the SMS and channel senders (a slow receiver never holds up an SMS).

With a broker configured, Celery workers run the same service function instead
(alerts/distributors/tasks.py).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from alerts.distributors.service import Pusher, push_due
from haven.db import Database

log = logging.getLogger(__name__)


class PushRunner:
    """`senders` threads that make due pushes until stopped."""

    def __init__(
        self, app: Flask, pusher: Pusher, *, senders: int = 2, idle_seconds: float = 0.2
    ) -> None:
        self.app = app
        self.pusher = pusher
        self.senders = senders
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"haven-push-{i}", daemon=True)
            for i in range(self.senders)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to finish its push and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        database: Database = self.app.extensions["haven.db"]
        while not self._stop.is_set():
            try:
                with database.sessions() as session:
                    busy = push_due(app=self.app, session=session, pusher=self.pusher) > 0
            except Exception:
                log.exception("pusher failed; retrying")
                busy = False
            if not busy:
                self._stop.wait(self.idle_seconds)
