"""Dispatch operations: record an alert version's deliveries, send what is due, take status.

Workers (alerts/dispatch/runner.py in-process, alerts/dispatch/tasks.py on Celery) call these.
Recording commits in chunks, so the first messages leave while later chunks are recorded.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import random
from collections.abc import Callable
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy.orm import Session

from alerts import store as alert_store
from alerts.audience import LiveAudience
from alerts.dispatch import store
from alerts.dispatch.bucket import TokenBucket
from alerts.models import Alert, AlertVersion, DispatchJob
from alerts.providers import (
    OPTED_OUT,
    UNDELIVERABLE_CODES,
    ChannelProvider,
    SendResult,
    SmsProvider,
)
from alerts.schemas import AlertIn
from alerts.sms import Kind, render_channel, render_sms
from geo.index import unique_ids
from haven.db import utcnow, write

log = logging.getLogger(__name__)

CHUNK = 5_000  # deliveries recorded per transaction
KINDS: dict[str, Kind] = {"Alert": "alert", "Update": "update", "Cancel": "cancel"}
MAX_BACKOFF_SECONDS = 300.0


@dataclasses.dataclass(frozen=True)
class Dispatcher:
    """What sending needs: the providers, the shared rate limit, and how to word messages."""

    sms: SmsProvider
    channels: ChannelProvider | None
    bucket: TokenBucket
    public_url: str
    segment_budget: int = 2
    batch: int = 100
    lease: datetime.timedelta = datetime.timedelta(seconds=60)


def queue_version(*, session: Session, alert: Alert, msg_type: str) -> None:
    """Queue the alert's current version for dispatch, in the caller's transaction."""
    store.save_job(
        session=session,
        alert_id=alert.id,
        version=alert.version,
        msg_type=msg_type,
        at=utcnow(),
    )


def _recipients(session: Session, job: DispatchJob, audience: LiveAudience) -> np.ndarray[Any, Any]:
    """Who a version goes to: an alert's audience; an update's earlier recipients plus its
    (possibly grown) audience; a cancellation's earlier recipients only."""
    alert = alert_store.get_alert(session=session, alert_id=job.alert_id)
    assert alert is not None
    reached = store.fetch_reached_subscribers(
        session=session, alert_id=job.alert_id, before_version=job.version
    )
    if job.msg_type == "Cancel":
        return reached
    from alerts.service import parse_areas  # the one place areas are parsed

    version = session.get_one(AlertVersion, _version_id(session, job))
    areas = [a.geometry for a in parse_areas(AlertIn.model_validate(version.content).areas)]
    only = None
    if alert.status != "Actual":
        only = np.asarray(alert_store.fetch_tester_ids(session=session), dtype=np.int32)
    found = audience.audience(session, areas, only=only).subscriber_ids
    return unique_ids(np.concatenate([found, reached])) if len(reached) else found


def _version_id(session: Session, job: DispatchJob) -> int:
    versions = alert_store.fetch_versions(session=session, alert_id=job.alert_id)
    return next(v.id for v in versions if v.version == job.version)


def record_next_job(*, session: Session, audience: LiveAudience) -> DispatchJob | None:
    """Claim one job and record all its deliveries, a chunk per transaction. Idempotent: a
    job taken over after a crash re-records, and rows already there are left alone."""
    with write(session):
        job = store.claim_job(session=session, now=utcnow(), lease=datetime.timedelta(minutes=5))
    if job is None:
        return None
    recipients = _recipients(session, job, audience)
    recorded = 0
    for start in range(0, len(recipients), CHUNK):
        chunk = recipients[start : start + CHUNK]
        with write(session):
            job = store.get_job(session=session, job_id=job.id)
            targets = store.fetch_channel_targets(
                session=session,
                subscriber_ids=chunk.tolist(),  # ids leave numpy at the I/O edge
            )
            store.record_deliveries(session=session, job=job, targets=targets, at=utcnow())
            recorded += len(targets)
            store.save_job_progress(session=session, job=job, recorded=recorded)
    with write(session):
        job = store.get_job(session=session, job_id=job.id)
        store.finish_job(session=session, job=job, at=utcnow())
    log.info("alert %s v%s: %d deliveries recorded", job.alert_id, job.version, recorded)
    return job


@dataclasses.dataclass(frozen=True)
class _Message:
    sms: str
    title: str
    body: str
    expires: datetime.datetime


def _backoff(attempts: int) -> datetime.timedelta:
    # Exponential with full jitter: spreads retries after a provider outage.
    return datetime.timedelta(
        seconds=random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0 ** min(attempts, 10)))
    )


def send_due(
    *,
    app: Flask,
    session: Session,
    dispatcher: Dispatcher,
    on_permanent: Callable[[Session, int, str], None] | None = None,
) -> int:
    """Claim a batch of due deliveries, send each within the rate limit, record what happened.

    Returns how many were claimed (0: nothing is due).
    """
    now = utcnow()
    with write(session):
        batch = store.claim_deliveries(
            session=session, now=now, limit=dispatcher.batch, lease=dispatcher.lease
        )
    if not batch:
        return 0
    messages: dict[tuple[int, int, str], _Message] = {}
    outcomes: list[dict[str, Any]] = []
    permanent: list[tuple[int, str]] = []
    for row in batch:
        delivery_id, alert_id, version, subscriber_id, channel_id, attempts, phone, lang, url = row
        key = (alert_id, version, lang)
        if key not in messages:
            messages[key] = _render(app, session, dispatcher, alert_id, version, lang)
        message = messages[key]
        now = utcnow()
        if now >= message.expires:
            outcomes.append(
                {
                    "id": delivery_id,
                    "status": "failed",
                    "error_code": "expired",
                    "lease_until": None,
                    "updated_at": now,
                }
            )
            continue
        if channel_id == store.SMS:
            if phone is None:
                outcomes.append(
                    {"id": delivery_id, "status": "skipped", "lease_until": None, "updated_at": now}
                )
                continue
            dispatcher.bucket.take()
            result = dispatcher.sms.send_sms(
                to=phone,
                body=message.sms,
                validity_seconds=int((message.expires - now).total_seconds()),
                status_callback=f"{dispatcher.public_url}/webhooks/twilio/status",
            )
        elif dispatcher.channels is not None and url is not None:
            result = dispatcher.channels.notify(url=url, title=message.title, body=message.body)
        else:
            result = SendResult("failed", error_code="no_channel")
        outcomes.append(_outcome(delivery_id, attempts, result, utcnow()))
        if result.outcome == "failed" and result.error_code:
            permanent.append((subscriber_id, result.error_code))
    with write(session):
        store.save_outcomes(session=session, outcomes=outcomes)
        for subscriber_id, code in permanent:
            if on_permanent is not None and (code == OPTED_OUT or code in UNDELIVERABLE_CODES):
                on_permanent(session, subscriber_id, code)
    return len(batch)


def _outcome(
    delivery_id: int, attempts: int, result: SendResult, now: datetime.datetime
) -> dict[str, Any]:
    if result.outcome == "accepted":
        return {
            "id": delivery_id,
            "status": result.status or "queued",
            "provider_id": result.provider_id,
            "sent_at": now,
            "lease_until": None,
            "error_code": None,
            "updated_at": now,
        }
    if result.outcome == "retry":
        wait = _backoff(attempts)
        if result.retry_after:
            wait = max(wait, datetime.timedelta(seconds=result.retry_after))
        return {
            "id": delivery_id,
            "status": "pending",
            "next_attempt_at": now + wait,
            "lease_until": None,
            "error_code": result.error_code,
            "updated_at": now,
        }
    return {
        "id": delivery_id,
        "status": "failed",
        "error_code": result.error_code,
        "lease_until": None,
        "updated_at": now,
    }


def _render(
    app: Flask, session: Session, dispatcher: Dispatcher, alert_id: int, version: int, language: str
) -> _Message:
    alert = alert_store.get_alert(session=session, alert_id=alert_id)
    assert alert is not None
    row = next(
        v
        for v in alert_store.fetch_versions(session=session, alert_id=alert_id)
        if v.version == version
    )
    agency = alert_store.get_agency(session=session, agency_id=alert.agency_id).name
    kind: Kind = KINDS[row.msg_type]
    link = f"{dispatcher.public_url}/a/{alert_id}"
    with app.app_context():
        sms = render_sms(
            alert_content=row.content,
            kind=kind,
            cancel_reason=alert.cancel_reason,
            agency=agency,
            language=language,
            link=link,
            budget=dispatcher.segment_budget,
        )
        title, body = render_channel(
            alert_content=row.content,
            kind=kind,
            cancel_reason=alert.cancel_reason,
            agency=agency,
            language=language,
            link=link,
        )
    # A cancellation is worth sending until the cancelled version's own expiry.
    return _Message(sms, title, body, row.expires)


def apply_status_callback(
    *, session: Session, provider_id: str, status: str, error_code: str | None
) -> int | None:
    """Record a provider's status report for one message; returns the subscriber it was for."""
    with write(session):
        return store.apply_status(
            session=session,
            provider_id=provider_id,
            status=status,
            error_code=error_code,
            at=utcnow(),
        )


def progress(*, session: Session, alert_id: int) -> dict[str, Any]:
    """Delivery counts by version, channel and status, with the first and last send times."""
    versions: dict[int, dict[str, Any]] = {}
    first: datetime.datetime | None = None
    last: datetime.datetime | None = None
    for version, kind, status, count, started, ended in store.delivery_counts(
        session=session, alert_id=alert_id
    ):
        entry = versions.setdefault(version, {"version": version, "total": 0, "by_channel": {}})
        entry["total"] += count
        entry["by_channel"].setdefault(kind, {})[status] = count
        first = min(filter(None, (first, started)), default=None)
        last = max(filter(None, (last, ended)), default=None)
    return {
        "alert_id": alert_id,
        "versions": list(versions.values()),
        "first_sent_at": first.isoformat() if first else None,
        "last_sent_at": last.isoformat() if last else None,
    }
