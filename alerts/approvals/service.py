"""Sending the notices that tell approvers an alert waits for them (alerts/approvals/).

`send_due_notices` claims due notices one at a time under a lease and, for each, sends the
approver "Waiting for your approval: <headline>. Review it at <link>" by Apprise (a URL) or by
SMS (a number, through the dispatcher's SMS provider), then records the outcome: sent; retried
after `BACKOFF` when the provider asks to retry or the send raises, until `ATTEMPTS` attempts;
failed; or skipped when the approver may no longer review the alert (it is no longer pending,
or the officer was revoked or lost their address). Sent and failed notices are audited in the
same transaction as their outcome; every outcome is counted in `haven_approver_notices`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import Flask
from prometheus_client import Counter
from sqlalchemy.orm import Session

from alerts import store as alerts_store
from alerts.approvals import store
from alerts.approvals.store import NoticeClaim
from alerts.dispatch.setup import get_dispatcher
from alerts.models import AuditEntry
from alerts.providers import AppriseChannelProvider, SendResult
from alerts.service import Rules, may_review
from alerts.views import headline
from haven.db import utcnow, write
from haven.metrics import EVENTS
from haven.settings import Settings

log = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF: tuple[float, ...] = (5.0, 30.0)  # seconds before the second and third attempts
SENDERS = 2  # in-process threads, or Celery tasks kicked at once: one slow channel holds one
REASON_LENGTH = 500  # of a reason kept on a notice
EXTENSION = "haven.approver_notifier"

NOTICES = Counter(
    "haven_approver_notices",
    "Notices to approvers that an alert waits for them, by channel (apprise, sms; none for an "
    "approver without an address) and outcome (sent, retried, failed, skipped).",
    ["channel", "outcome"],
    registry=EVENTS,
)

Outcome = Literal["sent", "retry", "failed", "skipped"]
AUDITED = {"sent": "approver_notified", "failed": "approver_notice_failed"}
OUTCOMES: dict[str, Outcome] = {"accepted": "sent", "retry": "retry"}  # else failed


@dataclasses.dataclass(frozen=True)
class Notifier:
    """What sending notices needs: the public URL (the console link), the review rules, how
    often to try (`backoff[n - 1]` seconds after the n-th attempt), the lease of a claim, and
    the clock leases and backoff are reckoned in (tests move it)."""

    public_url: str
    rules: Rules
    attempts: int = ATTEMPTS
    backoff: tuple[float, ...] = BACKOFF
    lease: datetime.timedelta = datetime.timedelta(seconds=60)
    clock: Callable[[], datetime.datetime] = utcnow


def make_notifier(settings: Settings) -> Notifier:
    """The notifier the settings describe. A claim's lease is dispatch's, which outlasts an
    SMS send, and never shorter than three Apprise deadlines."""
    lease = max(settings.dispatch_lease_seconds, 3 * settings.channel_send_seconds)
    return Notifier(
        public_url=settings.public_url,
        rules=Rules.from_settings(settings),
        lease=datetime.timedelta(seconds=lease),
    )


def get_notifier(app: Flask) -> Notifier:
    """The app's notifier, built on first use."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = make_notifier(app.extensions["haven.settings"])
    notifier: Notifier = app.extensions[EXTENSION]
    return notifier


def notify_approvers(app: Flask) -> None:
    """Tell the workers notices wait (after the submit committed): Celery gets tasks at once;
    the in-process runner finds them on its next poll."""
    if "haven.celery" in app.extensions:
        from alerts.approvals.tasks import kick_notices  # it imports this module

        try:
            kick_notices(app)
        except Exception:  # the submit has committed; the beat's tick kicks them again
            log.exception("could not ask the workers to send approver notices")


def channel_of(target: str) -> str:
    """How a notification address is reached: "apprise" for a URL, "sms" for a number."""
    return "apprise" if "://" in target else "sms"


@dataclasses.dataclass(frozen=True)
class Attempt:
    """What became of one claimed notice. `error` is the short code audited on failure."""

    channel: str
    outcome: Outcome
    error: str | None = None
    reason: str | None = None
    # A provider that answered "not taken, try later" (429, 5xx; a channel pool still busy
    # with an alert) spends no attempt, as in dispatch, and its Retry-After is honoured.
    spends_attempt: bool = True
    retry_after: float | None = None


def send_due_notices(*, app: Flask, session: Session, notifier: Notifier, limit: int = 10) -> int:
    """Send due notices, one claim at a time, until none is due or `limit` were claimed;
    returns how many were claimed. Each outcome is recorded whatever happens: a send that
    raises is retried like a provider's "try again"."""
    claimed = 0
    while claimed < limit:
        now = notifier.clock()
        # A read first: idle workers take no write lock.
        if not store.has_due_notices(session=session, now=now):
            session.rollback()
            break
        with write(session):
            claim = store.claim_notice(session=session, now=now, lease=notifier.lease)
        if claim is None:
            break
        claimed += 1
        try:
            attempt = _attempt(app, session, notifier, claim)
        except Exception as error:  # one notice must never stop the worker
            log.exception("approver notice %s raised", claim.id)
            session.rollback()
            attempt = Attempt("none", "retry", "exception", type(error).__name__)
        _record(session, notifier, claim, attempt, held_until=now + notifier.lease)
    return claimed


def _attempt(app: Flask, session: Session, notifier: Notifier, claim: NoticeClaim) -> Attempt:
    """Send one claimed notice, if its approver may still review the alert."""
    alert = alerts_store.get_alert(session=session, alert_id=claim.alert_id)
    officer = alerts_store.get_officer(session=session, officer_id=claim.officer_id)
    if alert is None or officer is None:  # rows are never deleted; for the type checker
        return Attempt("none", "skipped", reason="the alert or the officer is gone")
    editors = alerts_store.fetch_editor_ids(session=session, alert_id=alert.id)
    state, target, title = alert.state, officer.notify_to, headline(alert)
    reviews = officer.revoked_at is None and may_review(officer, alert, editors, notifier.rules)
    session.rollback()  # no transaction stays open during the send
    channel = channel_of(target) if target else "none"
    if state != "pending":
        return Attempt(channel, "skipped", reason=f"the alert is {state}")
    if not reviews:
        return Attempt(channel, "skipped", reason="the officer may not review the alert")
    if not target:
        return Attempt(channel, "skipped", reason="the officer has no address")
    if claim.attempts > notifier.attempts:
        # Claimed again after its lease ran out: a worker died with it, perhaps after the
        # provider took it. It has had every attempt it may have.
        why = f"claimed {claim.attempts} times; the last attempt recorded no outcome"
        return Attempt(channel, "failed", "no-outcome", why)
    link = f"{notifier.public_url.rstrip('/')}/console/alerts/{claim.alert_id}"
    try:
        result = _send(app, channel, target, title, link)
    except Exception as exc:
        log.exception("approver notice to officer %s raised", claim.officer_id)
        result = SendResult("retry", error_code="exception", reason=type(exc).__name__)
    outcome = OUTCOMES.get(result.outcome, "failed")
    return Attempt(
        channel,
        outcome,
        result.error_code,
        result.reason,
        spends_attempt=result.spends_attempt,
        retry_after=result.retry_after,
    )


def _send(app: Flask, channel: str, target: str, title: str, link: str) -> SendResult:
    dispatcher = get_dispatcher(app)
    body = f"Waiting for your approval: {title}. Review it at {link}"
    if channel == "sms":
        return dispatcher.sms.send_sms(
            to=target, body=body, validity_seconds=None, status_callback=None
        )
    provider = dispatcher.channels.provider if dispatcher.channels else None
    provider = provider or AppriseChannelProvider()
    return provider.notify(url=target, title=f"Waiting for approval: {title}", body=body)


def _clip(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _record(
    session: Session,
    notifier: Notifier,
    claim: NoticeClaim,
    attempt: Attempt,
    *,
    held_until: datetime.datetime,
) -> None:
    """The outcome on the notice and, for sent and failed ones, in the alert's audit trail,
    in one transaction (the address itself is never written: an Apprise URL may hold a
    password). Counted first: a notice sent whose outcome cannot be written is still sent."""
    now = notifier.clock()
    spent = attempt.spends_attempt
    if attempt.outcome == "retry" and spent and claim.attempts >= notifier.attempts:
        attempt = dataclasses.replace(attempt, outcome="failed")
    reason = _clip(f"{attempt.error or ''} {attempt.reason or ''}".strip()) or None
    done: dict[str, Any] = {"lease_until": None, "reason": reason}
    if attempt.outcome == "sent":
        values = {**done, "status": "sent", "sent_at": now}
    elif attempt.outcome == "retry":
        wait = notifier.backoff[max(1, min(claim.attempts, len(notifier.backoff))) - 1]
        wait = max(wait, attempt.retry_after or 0.0)
        next_at = now + datetime.timedelta(seconds=wait)
        values = {**done, "status": "pending", "next_attempt_at": next_at}
        if not spent:  # the claim counted an attempt: give it back
            values["attempts"] = claim.attempts - 1
    else:
        values = {**done, "status": attempt.outcome}
    NOTICES.labels(
        attempt.channel, "retried" if attempt.outcome == "retry" else attempt.outcome
    ).inc()
    with write(session):
        held = store.save_notice_outcome(
            session=session, notice_id=claim.id, held_until=held_until, values=values
        )
        if held and attempt.outcome in AUDITED:
            changes: dict[str, object] = {"approver": claim.officer_id, "channel": attempt.channel}
            if attempt.outcome == "failed":
                changes["error"] = attempt.error
            alerts_store.save(
                session=session,
                row=AuditEntry(
                    alert_id=claim.alert_id,
                    agency_id=claim.agency_id,
                    officer_id=None,
                    action=AUDITED[attempt.outcome],
                    at=now,
                    changes=changes,
                ),
            )
    what = f"approver notice for alert {claim.alert_id} to officer {claim.officer_id}"
    if not held:
        log.warning("%s: taken over by another worker after the lease ran out", what)
    elif attempt.outcome == "sent":
        log.info("%s (%s): sent", what, attempt.channel)
    elif attempt.outcome == "skipped":
        log.info("%s: skipped: %s", what, reason)
    elif attempt.outcome == "retry":
        log.warning(
            "%s (%s): attempt %d failed, will retry: %s",
            what,
            attempt.channel,
            claim.attempts,
            reason,
        )
    else:
        log.warning("%s (%s) failed: %s", what, attempt.channel, reason)
