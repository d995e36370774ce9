"""Polling runners: a few threads beside the web server that each repeat one round of
background work (claim what is due in the database and do it) until stopped, resting
`idle_seconds` after a round that found nothing to do.

The distributors' pushers and the approvers' notices run on it. With a broker configured,
Celery workers call the same service functions instead.
"""

from __future__ import annotations

import abc
import logging
import threading

from flask import Flask
from sqlalchemy.orm import Session

from haven.db import Database

log = logging.getLogger(__name__)


class PollingRunner(abc.ABC):
    """`threads` threads named `<name>-<i>` that call `work` until stopped."""

    def __init__(self, app: Flask, *, name: str, threads: int, idle_seconds: float) -> None:
        self.app = app
        self.name = name
        self.threads = threads
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @abc.abstractmethod
    def work(self, session: Session) -> bool:
        """One round of work on `session`; whether it found any (the thread goes on at once)
        or not (it rests)."""

    def start(self) -> None:
        """Start the threads."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"{self.name}-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to finish its round and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        database: Database = self.app.extensions["haven.db"]
        while not self._stop.is_set():
            try:
                with database.sessions() as session:
                    busy = self.work(session)
            except Exception:
                log.exception("%s failed; retrying", self.name)
                busy = False
            if not busy:
                self._stop.wait(self.idle_seconds)
