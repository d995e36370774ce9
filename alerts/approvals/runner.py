"""The in-process notice senders: threads beside the web server that send approvers' notices,
apart from the SMS and channel senders (an alert's audience never holds up a notice).

With a broker configured, Celery workers run the same service function instead
(alerts/approvals/tasks.py).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from alerts.approvals.service import SENDERS, Notifier, send_due_notices
from alerts.runner import PollingRunner


class NoticeRunner(PollingRunner):
    """`senders` threads that send due notices until stopped."""

    def __init__(
        self, app: Flask, notifier: Notifier, *, senders: int = SENDERS, idle_seconds: float = 0.5
    ) -> None:
        super().__init__(app, name="haven-notice", threads=senders, idle_seconds=idle_seconds)
        self.notifier = notifier

    def work(self, session: Session) -> bool:
        """Send the notices due, if any; whether there were any."""
        return send_due_notices(app=self.app, session=session, notifier=self.notifier) > 0
