"""The in-process dispatcher: a recorder thread and a few sender threads beside the web server,
SMS senders and channel senders apart (a slow channel never holds up an SMS). Idle threads
poll every `idle_seconds`; a new job wakes the recorder at once, and its first recorded chunk
wakes the SMS senders (`wake`).

It is the embedded default (SQLite, `make run`). With a broker configured, Celery workers
run the same service functions instead (alerts/dispatch/tasks.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from alerts.audience import LiveAudience
from alerts.dispatch.service import Dispatcher, record_next_job, send_due
from alerts.dispatch.store import DeliveryKind
from haven.db import Database

log = logging.getLogger(__name__)


class DispatchRunner:
    """Threads that record dispatch jobs and send due deliveries until stopped: `senders`
    threads for SMS and `channel_senders` for channels."""

    def __init__(
        self,
        app: Flask,
        dispatcher: Dispatcher,
        *,
        senders: int = 4,
        channel_senders: int = 2,
        idle_seconds: float = 0.2,
        on_permanent: Callable[[Session, int, str], None] | None = None,
    ) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self.senders = senders
        self.channel_senders = channel_senders
        self.idle_seconds = idle_seconds
        self.on_permanent = on_permanent
        self._stop = threading.Event()
        # Set when there is work: idle threads wake at once instead of after `idle_seconds`.
        self._wake = {"record": threading.Event(), "sms": threading.Event()}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the recorder and the senders (`alerts.dispatch.setup.notify` wakes them)."""
        self._stop.clear()
        self.app.extensions["haven.dispatch_runner"] = self
        self._threads = [threading.Thread(target=self._record_loop, name="haven-dispatch-record")]
        for kind, count in (("sms", self.senders), ("channel", self.channel_senders)):
            self._threads += [
                threading.Thread(
                    target=self._send_loop, args=(kind,), name=f"haven-dispatch-{kind}-{i}"
                )
                for i in range(count)
            ]
        for thread in self._threads:
            thread.daemon = True
        for thread in self._threads:
            thread.start()

    def wake(self, *, recorder: bool = False) -> None:
        """Wake the idle SMS senders now (and the recorder, for a new job)."""
        self._wake["sms"].set()
        if recorder:
            self._wake["record"].set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to finish its batch and wait for them."""
        self._stop.set()
        for event in self._wake.values():
            event.set()
        if self.app.extensions.get("haven.dispatch_runner") is self:
            del self.app.extensions["haven.dispatch_runner"]
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, work: Callable[[Session], bool], wake: threading.Event | None) -> None:
        database: Database = self.app.extensions["haven.db"]
        while not self._stop.is_set():
            try:
                with database.sessions() as session:
                    busy = work(session)
            except Exception:
                log.exception("dispatch worker failed; retrying")
                busy = False
            if not busy:
                # A wake-up may be missed between the work and the wait: it costs no more
                # than one idle wait, as before wake-ups existed.
                (wake or self._stop).wait(self.idle_seconds)
                if wake is not None:
                    wake.clear()

    def _record_loop(self) -> None:
        audience: LiveAudience = self.app.extensions["haven.audience"]
        self._loop(
            lambda s: (
                record_next_job(session=s, audience=audience, on_recorded=self.wake) is not None
            ),
            self._wake["record"],
        )

    def _send_loop(self, kind: DeliveryKind) -> None:
        self._loop(
            lambda s: (
                send_due(
                    app=self.app,
                    session=s,
                    dispatcher=self.dispatcher,
                    kind=kind,
                    on_permanent=self.on_permanent,
                )
                > 0
            ),
            self._wake["sms"] if kind == "sms" else None,
        )
