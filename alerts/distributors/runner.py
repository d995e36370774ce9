"""The in-process pushers: a few threads beside the web server that push CAP to distributors,
apart from the SMS and channel senders (a slow receiver never holds up an SMS).

With a broker configured, Celery workers run the same service function instead
(alerts/distributors/tasks.py).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from alerts.distributors.service import Pusher, push_due
from alerts.runner import PollingRunner


class PushRunner(PollingRunner):
    """`senders` threads that make due pushes until stopped."""

    def __init__(
        self, app: Flask, pusher: Pusher, *, senders: int = 2, idle_seconds: float = 0.2
    ) -> None:
        super().__init__(app, name="haven-push", threads=senders, idle_seconds=idle_seconds)
        self.pusher = pusher

    def work(self, session: Session) -> bool:
        """Make the push due longest, if any; whether there was one."""
        return push_due(app=self.app, session=session, pusher=self.pusher) > 0
