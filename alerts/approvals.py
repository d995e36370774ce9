"""Telling approvers an alert waits for them: when a draft is submitted, each approver of the
agency but the submitter who may approve it (`service.may_review`: under the two-person rule,
nobody who wrote any of it) and has a notification address (`Officer.notify_to`) gets a short
message with the link to the alert in the console, by Apprise (a URL) or by SMS (a number,
through the dispatcher's SMS provider).

Sending never slows or fails the submit: it runs on a background thread of the process that
took the submit (a thread that cannot be started is logged and counted; the submit stands). A
send the provider asks to retry, or that raises, is tried again after `BACKOFF` seconds, up
to `ATTEMPTS` times; every outcome is counted in the `haven_approver_notices` metric, logged
when it fails, and written to the alert's audit trail ("approver_notified" or
"approver_notice_failed"), where the console shows it. A notice still waiting for its retry
when the process stops is lost (and so never audited as sent): the notices do not go through
the worker's queue.
See docs/console.md, "Approval".
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from flask import Flask
from prometheus_client import Counter
from sqlalchemy.orm import Session

from alerts import store
from alerts.dispatch.setup import get_dispatcher
from alerts.models import AuditEntry
from alerts.providers import AppriseChannelProvider, SendResult
from alerts.service import Rules, may_review
from alerts.views import headline
from haven.db import Database, utcnow, write
from haven.metrics import EVENTS
from haven.settings import Settings

log = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF: tuple[float, ...] = (5.0, 30.0)  # seconds before the second and third attempts
EXTENSION = "haven.approver_notices"

NOTICES = Counter(
    "haven_approver_notices",
    "Notices to approvers that an alert waits for them, by channel (apprise, sms; none for "
    "notices that could not be started) and outcome (sent, retried, failed).",
    ["channel", "outcome"],
    registry=EVENTS,
)


@dataclasses.dataclass(frozen=True)
class Notice:
    """What every approver is told about one submitted alert."""

    alert_id: int
    agency_id: int
    title: str


def channel_of(target: str) -> str:
    """How a notification address is reached: "apprise" for a URL, "sms" for a number."""
    return "apprise" if "://" in target else "sms"


class ApproverNotices:
    """Sends approval notices for one app in the background; `wait` is for tests and shutdown."""

    def __init__(
        self,
        app: Flask,
        *,
        backoff: Sequence[float] = BACKOFF,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.backoff = tuple(backoff)
        self.attempts = attempts
        self.sleep = sleep
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submitted(self, *, alert_id: int, submitted_by: int) -> None:
        """Start telling the approvers about a submitted alert; returns at once. The submit is
        committed by now: a notice that cannot even be started is logged and counted, never
        raised."""
        try:
            self._start(self._notify_all, alert_id, submitted_by)
        except Exception:
            log.exception("approver notices for alert %s could not be started", alert_id)
            NOTICES.labels("none", "failed").inc()

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(
            target=target, args=args, name="haven-approver-notices", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the notices started so far (and those they start)."""
        while True:
            with self._lock:
                threads = [t for t in self._threads if t.is_alive()]
            if not threads:
                return
            for thread in threads:
                thread.join(timeout)
            if timeout is not None:
                return

    def _sessions(self) -> Session:
        database: Database = self.app.extensions["haven.db"]
        return database.sessions()

    def _notify_all(self, alert_id: int, submitted_by: int) -> None:
        """One thread per approver: one approver's retries never hold up another's notice."""
        try:
            with self._sessions() as session:
                alert = store.get_alert(session=session, alert_id=alert_id)
                if alert is None:
                    return
                approvers = store.fetch_approvers_to_notify(
                    session=session, agency_id=alert.agency_id, except_id=submitted_by
                )
                editors = store.fetch_editor_ids(session=session, alert_id=alert.id)
                rules = Rules.from_settings(self.app.extensions["haven.settings"])
                notice = Notice(alert_id, alert.agency_id, headline(alert))
                targets = [
                    (approver.id, approver.notify_to or "")
                    for approver in approvers
                    if may_review(approver, alert, editors, rules)
                ]
        except Exception:
            log.exception("approver notices for alert %s could not be started", alert_id)
            return
        for approver_id, target in targets:
            try:
                self._start(self._notify_one, notice, approver_id, target)
            except Exception:
                log.exception(
                    "approver notice for alert %s to officer %s could not be started",
                    alert_id,
                    approver_id,
                )
                NOTICES.labels(channel_of(target), "failed").inc()

    def _notify_one(self, notice: Notice, approver_id: int, target: str) -> None:
        try:
            result = self._notify(notice, approver_id, target)
        except Exception:
            log.exception(
                "approver notice for alert %s to officer %s failed", notice.alert_id, approver_id
            )
            NOTICES.labels(channel_of(target), "failed").inc()
            return
        # Sent (or failed) and counted by now: a trail that cannot be written is only logged.
        try:
            with self._sessions() as session:
                _record(session, notice, approver_id, target, result)
        except Exception:
            log.exception(
                "approver notice for alert %s to officer %s: its outcome could not be audited",
                notice.alert_id,
                approver_id,
            )

    def _notify(self, notice: Notice, approver_id: int, target: str) -> SendResult:
        settings: Settings = self.app.extensions["haven.settings"]
        link = f"{settings.public_url.rstrip('/')}/console/alerts/{notice.alert_id}"
        channel = channel_of(target)
        title, alert_id, approver = notice.title, notice.alert_id, approver_id
        result = SendResult("retry", error_code="not-sent")
        for attempt in range(self.attempts):
            if attempt:
                NOTICES.labels(channel, "retried").inc()
                self.sleep(self.backoff[min(attempt, len(self.backoff)) - 1])
            try:
                result = self._send(channel, target, title, link)
            except Exception as exc:
                log.exception("approver notice to officer %s raised", approver)
                result = SendResult("retry", error_code="exception", reason=type(exc).__name__)
            if result.outcome != "retry":
                break
        outcome = "sent" if result.outcome == "accepted" else "failed"
        NOTICES.labels(channel, outcome).inc()
        if outcome == "failed":
            log.warning(
                "approver notice for alert %s to officer %s (%s) failed: %s %s",
                alert_id,
                approver,
                channel,
                result.error_code,
                result.reason or "",
            )
        return result

    def _send(self, channel: str, target: str, title: str, link: str) -> SendResult:
        dispatcher = get_dispatcher(self.app)
        body = f"Waiting for your approval: {title}. Review it at {link}"
        if channel == "sms":
            return dispatcher.sms.send_sms(
                to=target, body=body, validity_seconds=None, status_callback=None
            )
        provider = dispatcher.channels.provider if dispatcher.channels else None
        provider = provider or AppriseChannelProvider()
        return provider.notify(url=target, title=f"Waiting for approval: {title}", body=body)


def _record(
    session: Session, notice: Notice, approver_id: int, target: str, result: SendResult
) -> None:
    """The outcome in the alert's audit trail (the address itself is never written: an
    Apprise URL may hold a password)."""
    sent = result.outcome == "accepted"
    changes: dict[str, object] = {"approver": approver_id, "channel": channel_of(target)}
    if not sent:
        changes["error"] = result.error_code
    with write(session):
        store.save(
            session=session,
            row=AuditEntry(
                alert_id=notice.alert_id,
                agency_id=notice.agency_id,
                officer_id=None,
                action="approver_notified" if sent else "approver_notice_failed",
                at=utcnow(),
                changes=changes,
            ),
        )


def get_notices(app: Flask) -> ApproverNotices:
    """The app's approval notices, made on first use."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = ApproverNotices(app)
    notices: ApproverNotices = app.extensions[EXTENSION]
    return notices
