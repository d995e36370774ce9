"""Dispatch operations: record an alert version's deliveries, send what is due, take status.

Workers (alerts/dispatch/runner.py in-process, alerts/dispatch/tasks.py on Celery) call these.
Recording commits in chunks, so the first messages leave while later chunks are recorded.

Sending isolates each delivery: one that cannot be rendered, or whose provider raises, gets an
outcome of its own (tried again later, failed once `max_attempts` is spent), and the rest of
its batch is recorded as usual. SMS and channels are claimed in batches of their own, so an
SMS never waits on a slow channel. A sender saves outcomes as they come (a few at a time) and
extends its lease on what it has yet to send, so a batch that outlasts its lease is not taken
over and sent again while its sender is still at work.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy.orm import Session

from alerts import store as alert_store
from alerts.audience import LiveAudience
from alerts.content import AlertContent
from alerts.dispatch import store
from alerts.dispatch.bucket import TokenBucket
from alerts.dispatch.inflight import SEND_LOOP, Results, Send
from alerts.dispatch.store import Claim, DeliveryKind
from alerts.failover import FailoverSmsProvider
from alerts.models import Alert, AlertVersion, DispatchJob
from alerts.photos import version_attachments
from alerts.providers import (
    PERMANENT_CODES,
    Attachment,
    SendResult,
    SmsProvider,
    send_sms_async,
)
from alerts.sms import Kind, render_channel, render_sms
from alerts.subscriptions.channels import ChannelSender
from geo.index import unique_ids
from haven.db import utcnow, write
from haven.health import Readiness

log = logging.getLogger(__name__)

# Deliveries are recorded a chunk per transaction: a small first chunk, so that sending starts
# at once, then chunks growing FIRST_CHUNK × CHUNK_GROWTH^n up to CHUNK.
FIRST_CHUNK = 250
CHUNK_GROWTH = 4
CHUNK = 10_000
# While a job is recorded, workers are told of new deliveries at most this often (the first
# chunk at once): a sender that ran out of due deliveries comes back for the next chunks.
KICK_SECONDS = 1.0
# A sender saves outcomes at least this often (a worker killed in between repeats no more):
# channels, sent one at a time, every SAVE_EVERY; SMS, many in flight, every SMS_SAVE_EVERY
# (their whole batch, at the default batch sizes); both at least every SAVE_SECONDS.
SAVE_EVERY = 10
SMS_SAVE_EVERY = 500
SAVE_SECONDS = 1.0
# How long a sender waits for an SMS in flight before looking at its lease again, and how
# long one that failed mid-batch waits for those in flight before giving back the rest.
RESULT_POLL_SECONDS = 1.0
DRAIN_SECONDS = 15.0
KINDS: dict[str, Kind] = {"Alert": "alert", "Update": "update", "Cancel": "cancel"}
MAX_BACKOFF_SECONDS = 300.0
REASON_LENGTH = 200  # Delivery.reason
# Error codes of Haven's own (Twilio's are numbers; Apprise's are in alerts.providers).
RENDER_FAILED = "render"
SEND_RAISED = "error"
EXPIRED = "expired"
GAVE_UP = "max_attempts"
NO_CHANNEL = "no_channel"

Backoff = Callable[[int], datetime.timedelta]


def full_jitter(attempts: int) -> datetime.timedelta:
    """How long to wait after `attempts` tries: exponential, capped at MAX_BACKOFF_SECONDS,
    with full jitter, so retries after a provider outage spread out."""
    return datetime.timedelta(
        seconds=random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0 ** min(attempts, 10)))
    )


@dataclasses.dataclass(frozen=True)
class Dispatcher:
    """What sending needs: the providers, the shared rate limit, how to word messages, and
    how often to try (`backoff` is given the attempts so far and says how long to wait).
    `clock` is the time leases, expiry and backoff are reckoned in (tests move it)."""

    sms: SmsProvider
    channels: ChannelSender | None
    bucket: TokenBucket
    public_url: str
    segment_budget: int = 2
    batch: int = 100
    lease: datetime.timedelta = datetime.timedelta(seconds=60)
    max_attempts: int = 5
    in_flight: int = 64  # SMS one sender keeps in flight at once
    backoff: Backoff = full_jitter
    clock: Callable[[], datetime.datetime] = utcnow


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
    areas = [a.geometry for a in parse_areas(AlertContent.from_stored(version.content).areas)]
    only = None
    if alert.status != "Actual":
        only = np.asarray(alert_store.fetch_tester_ids(session=session), dtype=np.int32)
    found = audience.audience(session, areas, only=only).subscriber_ids
    return unique_ids(np.concatenate([found, reached])) if len(reached) else found


def _version_id(session: Session, job: DispatchJob) -> int:
    versions = alert_store.fetch_versions(session=session, alert_id=job.alert_id)
    return next(v.id for v in versions if v.version == job.version)


def chunks(count: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks `count` recipients are recorded in: FIRST_CHUNK, then
    growing CHUNK_GROWTH times each up to CHUNK."""
    found, start, size = [], 0, FIRST_CHUNK
    while start < count:
        found.append((start, min(count, start + size)))
        start, size = start + size, min(CHUNK, size * CHUNK_GROWTH)
    return found


def record_next_job(
    *,
    session: Session,
    audience: LiveAudience,
    on_recorded: Callable[[], None] | None = None,
) -> DispatchJob | None:
    """Claim one job and record all its deliveries, a chunk per transaction. Idempotent: a
    job taken over after a crash re-records, and rows already there are left alone.

    `on_recorded` is called once the first chunk has committed, and then at most every
    KICK_SECONDS while the rest is recorded: it tells senders there is work (a Celery task
    for each, or a wake-up of the in-process threads), so the first SMS leaves at once.

    Claims nothing (returns None) until the audience index is ready: the job waits in the
    database, and the worker asks again on its next round."""
    if audience.check(session) is not Readiness.READY:
        return None
    with write(session):
        job = store.claim_job(session=session, now=utcnow(), lease=datetime.timedelta(minutes=5))
    if job is None:
        return None
    recipients = _recipients(session, job, audience)
    # A job taken over after a crash goes through every chunk again: rows recorded before
    # are left alone and were counted then, so the job's count stays its count of rows.
    kicked_at: float | None = None
    for start, end in chunks(len(recipients)):
        with write(session):
            job = store.get_job(session=session, job_id=job.id)
            added = store.record_deliveries(
                session=session,
                job=job,
                subscriber_ids=recipients[start:end].tolist(),  # ids leave numpy at the I/O edge
                at=utcnow(),
            )
            store.add_job_progress(session=session, job=job, added=added)
        due = kicked_at is None or time.monotonic() - kicked_at >= KICK_SECONDS
        if on_recorded is not None and added and due:
            kicked_at = time.monotonic()
            on_recorded()
    with write(session):
        job = store.get_job(session=session, job_id=job.id)
        store.finish_job(session=session, job=job, at=utcnow())
    log.info("alert %s v%s: %d deliveries recorded", job.alert_id, job.version, job.recorded)
    return job


@dataclasses.dataclass(frozen=True)
class _Message:
    sms: str
    title: str
    body: str
    expires: datetime.datetime


@dataclasses.dataclass(frozen=True)
class _Skip:
    """Not to be sent, and no failure: the reason is in `error_code`."""

    error_code: str


@dataclasses.dataclass(frozen=True)
class _Sms:
    """An SMS ready to hand to the provider (the rate limit not yet taken)."""

    send: Send


def claim_size(*, dispatcher: Dispatcher, kind: DeliveryKind) -> int:
    """How many deliveries a sender claims at once: the batch, and for SMS no more than the
    shared rate lets through in half a lease (at least one), so that even a sender with the
    rate to itself is done well within its lease."""
    if kind == "channel":
        return dispatcher.batch
    allowed = int(dispatcher.bucket.rate * dispatcher.lease.total_seconds() / 2)
    return max(1, min(dispatcher.batch, allowed))


def send_due(
    *,
    app: Flask,
    session: Session,
    dispatcher: Dispatcher,
    kind: DeliveryKind = "sms",
    on_permanent: Callable[[Session, int, str], None] | None = None,
) -> int:
    """Claim a batch of due deliveries of one kind, send each (SMS within the rate limit), and
    record what happened as it happens.

    SMS go out many at a time (`dispatcher.in_flight`, on the provider's keep-alive
    connections, see alerts/dispatch/inflight.py); channels one at a time.

    Each delivery gets its own outcome, whatever happens to the others: one that cannot be
    rendered, or whose sending raises, is tried again after a backoff until it has had
    `dispatcher.max_attempts` attempts, then fails with its reason. `on_permanent` is told of
    numbers that must get nothing more (alerts.subscribers.mark_unreachable).

    Outcomes are saved in groups (SMS_SAVE_EVERY for SMS, SAVE_EVERY for channels) and at
    least every SAVE_SECONDS, each group in one transaction. Whenever less than half the lease
    is left, the lease of the deliveries not finished yet is extended; one another worker took
    over meanwhile is left to that worker.

    Returns how many were claimed (0: nothing is due).
    """
    now = dispatcher.clock()
    with write(session):
        batch = store.claim_deliveries(
            session=session,
            now=now,
            kind=kind,
            limit=claim_size(dispatcher=dispatcher, kind=kind),
            lease=dispatcher.lease,
        )
    if not batch:
        return 0
    sending = _Batch(
        app=app,
        session=session,
        dispatcher=dispatcher,
        batch=batch,
        first_contacts=store.fetch_first_contacts(session=session, claims=batch),
        done=_Outcomes(session, on_permanent, saved_at=now, held_until=now + dispatcher.lease),
    )
    if kind == "sms":
        sending.send_concurrently()
    else:
        sending.send_one_by_one()
    return len(batch)


class _Batch:
    """One claimed batch being sent: what is decided, in flight, taken over, and saved."""

    def __init__(
        self,
        *,
        app: Flask,
        session: Session,
        dispatcher: Dispatcher,
        batch: list[Claim],
        first_contacts: set[int],
        done: _Outcomes,
    ) -> None:
        self.app, self.session, self.dispatcher = app, session, dispatcher
        self.batch = batch
        self.claims = {claim.id: claim for claim in batch}
        self.first_contacts = first_contacts
        self.done = done
        self.messages: dict[tuple[int, int, str, bool], _Message | SendResult] = {}
        self.files: dict[tuple[int, int], tuple[Attachment, ...]] = {}  # photos, once a batch
        self.position = 0  # batch[:position] is decided: sent, in flight, skipped or failed
        self.lost: set[int] = set()  # taken over by another worker
        self.group: list[tuple[int, Send]] = []  # SMS ready, not handed to the loop yet
        self.in_flight: set[int] = set()  # SMS handed to the loop, no answer yet
        self.results: Results[int] = Results()

    def _decide(self, claim: Claim, *, sms_later: bool) -> SendResult | _Skip | _Sms:
        try:
            return _deliver(
                self.app,
                self.session,
                self.dispatcher,
                claim,
                self.messages,
                claim.id in self.first_contacts,
                self.files,
                sms_later=sms_later,
            )
        except Exception as error:  # one delivery must never sink the rest of its batch
            log.exception("delivery %s raised while sending", claim.id)
            self.session.rollback()  # a failed query must not poison the outcomes saved next
            return SendResult("retry", error_code=SEND_RAISED, reason=_describe(error))

    def _finish(self, claim: Claim, result: SendResult | _Skip) -> None:
        now = self.dispatcher.clock()
        self.done.add(claim, result, _outcome(claim, result, now, self.dispatcher))

    def _upkeep(self, save_every: int) -> None:
        """Extend the lease when less than half of it is left; save outcomes when due."""
        dispatcher = self.dispatcher
        if dispatcher.clock() + dispatcher.lease / 2 > self.done.held_until:
            self.done.save(dispatcher.clock())  # what is sent needs no lease
            unfinished = [
                claim
                for claim in self.batch[self.position :]
                if claim.id not in self.lost and claim.id not in self.in_flight
            ]
            unfinished += [self.claims[key] for key, _ in self.group]
            unfinished += [self.claims[key] for key in self.in_flight]
            self.done.held_until, taken = _extend_lease(
                self.session, dispatcher, unfinished, self.done.held_until
            )
            self.lost |= taken
            self.group = [(key, send) for key, send in self.group if key not in taken]
        since = dispatcher.clock() - self.done.saved_at
        if len(self.done) >= save_every or since >= _SAVE_INTERVAL:
            self.done.save(dispatcher.clock())

    def send_one_by_one(self) -> None:
        """Send each delivery in turn (channels: Apprise blocks)."""
        try:
            for position, claim in enumerate(self.batch):
                self._upkeep(SAVE_EVERY)
                if claim.id not in self.lost:
                    result = self._decide(claim, sms_later=False)
                    assert not isinstance(result, _Sms)
                    self._finish(claim, result)
                self.position = position + 1
            self.done.save(self.dispatcher.clock())
        except Exception:
            self._give_back()
            raise

    def send_concurrently(self) -> None:
        """Hand SMS to the process's event loop in groups as the rate allows, up to
        `dispatcher.in_flight` at once, and record each answer as it comes back."""
        dispatcher = self.dispatcher
        # Groups of a quarter of the in-flight limit keep the pipe full (a new group leaves as
        # soon as a quarter has come back); at a low rate, a twentieth of a second's worth.
        step = max(1, min(dispatcher.in_flight // 4, int(dispatcher.bucket.rate / 20)))
        try:
            for position, claim in enumerate(self.batch):
                self._upkeep(SMS_SAVE_EVERY)
                if claim.id not in self.lost:
                    decided = self._decide(claim, sms_later=True)
                    if isinstance(decided, _Sms):
                        self.group.append((claim.id, decided.send))
                    else:
                        self._finish(claim, decided)
                self.position = position + 1
                if len(self.group) >= step:
                    self._hand_over()
                while self._collect(timeout=0):
                    pass
            if self.group:
                self._hand_over()
            while self.in_flight:
                self._collect(timeout=RESULT_POLL_SECONDS)
                self._upkeep(SMS_SAVE_EVERY)
            self.done.save(dispatcher.clock())
        except Exception:
            self._give_back()
            raise

    def _hand_over(self) -> None:
        """Send the group once the in-flight limit and the rate allow."""
        while self.in_flight and len(self.in_flight) + len(self.group) > self.dispatcher.in_flight:
            self._collect(timeout=RESULT_POLL_SECONDS)
            self._upkeep(SMS_SAVE_EVERY)
        if not self.group:  # all taken over meanwhile
            return
        self.dispatcher.bucket.take(len(self.group))
        group, self.group = self.group, []
        self.in_flight.update(key for key, _ in group)
        SEND_LOOP.submit(group, self.results)

    def _collect(self, timeout: float) -> bool:
        """Record one answer from the loop; False if none came within `timeout`."""
        got = self.results.get(timeout) if timeout else self.results.get_nowait()
        if got is None:
            return False
        key, result = got
        self.in_flight.discard(key)
        if isinstance(result, BaseException):
            log.error("delivery %s raised while sending", key, exc_info=result)
            result = SendResult("retry", error_code=SEND_RAISED, reason=_describe(result))
        self._finish(self.claims[key], result)
        return True

    def _give_back(self) -> None:
        """After a failure mid-batch (the database dropping its connections, say): wait a
        while for the SMS in flight, then save the outcomes not saved yet and give back the
        claims not sent, on a fresh connection, so that they are not left to wait out the
        lease. Best effort: what fails here waits for the lease."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.in_flight and time.monotonic() < deadline:
            self._collect(timeout=RESULT_POLL_SECONDS)
        unsent = [claim for claim in self.batch[self.position :] if claim.id not in self.lost]
        unsent += [self.claims[key] for key, _ in self.group]
        session, dispatcher = self.session, self.dispatcher
        session.rollback()
        try:
            self.done.save(dispatcher.clock())
            with write(session):
                store.release_claims(
                    session=session,
                    ids=[claim.id for claim in unsent],
                    held_until=self.done.held_until,
                    at=dispatcher.clock(),
                )
        except Exception:
            log.exception("%d claimed deliveries wait for their lease to run out", len(unsent))


_SAVE_INTERVAL = datetime.timedelta(seconds=SAVE_SECONDS)


class _Outcomes:
    """Outcomes not saved yet, and the numbers to stop that they found."""

    def __init__(
        self,
        session: Session,
        on_permanent: Callable[[Session, int, str], None] | None,
        *,
        saved_at: datetime.datetime,
        held_until: datetime.datetime,
    ) -> None:
        self.session = session
        self.on_permanent = on_permanent
        self.saved_at = saved_at
        self.held_until = held_until  # the sender's lease, moved on as it is extended
        self._outcomes: list[dict[str, Any]] = []
        self._permanent: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._outcomes)

    def add(self, claim: Claim, result: SendResult | _Skip, outcome: dict[str, Any]) -> None:
        """Keep one delivery's outcome until the next save."""
        self._outcomes.append(outcome)
        failed = isinstance(result, SendResult) and result.outcome == "failed"
        if failed and result.error_code in PERMANENT_CODES:
            self._permanent.append((claim.subscriber_id, result.error_code))

    def save(self, now: datetime.datetime) -> None:
        """Save the outcomes kept so far in one short transaction, then act on the numbers."""
        self.saved_at = now
        if self._outcomes:
            with write(self.session):
                store.save_outcomes(
                    session=self.session, outcomes=self._outcomes, held_until=self.held_until
                )
            self._outcomes = []
        permanent, self._permanent = self._permanent, []
        if self.on_permanent is None:
            return
        for subscriber_id, code in permanent:
            try:
                with write(self.session):
                    self.on_permanent(self.session, subscriber_id, code)
            except Exception:  # the outcomes are saved; the next refusal will try again
                log.exception("subscriber %s: could not act on error %s", subscriber_id, code)


def _extend_lease(
    session: Session, dispatcher: Dispatcher, claims: list[Claim], held_until: datetime.datetime
) -> tuple[datetime.datetime, set[int]]:
    """Lease the claims still to send for another `dispatcher.lease`; returns the new end of
    the lease and the ids of claims another worker took over (their lease had run out)."""
    until = dispatcher.clock() + dispatcher.lease
    ids = [claim.id for claim in claims]
    with write(session):
        kept = store.extend_leases(session=session, ids=ids, held_until=held_until, until=until)
    lost = set(ids) - kept
    if lost:
        log.warning("%d claimed deliveries were taken over after their lease ran out", len(lost))
    return until, lost


def _deliver(
    app: Flask,
    session: Session,
    dispatcher: Dispatcher,
    claim: Claim,
    messages: dict[tuple[int, int, str, bool], _Message | SendResult],
    first_contact: bool = False,
    files: dict[tuple[int, int], tuple[Attachment, ...]] | None = None,
    *,
    sms_later: bool = False,
) -> SendResult | _Skip | _Sms:
    """Send one claimed delivery (or say why not). An update to someone no earlier version
    reached (`first_contact`: the area grew, or the first message failed) says everything.
    A channel message carries the version's photos (`files` keeps them for the batch).
    With `sms_later`, an SMS is not sent but returned ready to send (`_Sms`)."""
    if claim.attempts > dispatcher.max_attempts:
        # Claimed again after its lease ran out: a worker died with it, perhaps after
        # handing it to the provider. It has had every attempt it may have.
        return SendResult(
            "failed",
            error_code=GAVE_UP,
            reason=f"claimed {claim.attempts} times; the last attempt recorded no outcome "
            f"(last error: {claim.error_code or 'none'})",
        )
    if claim.subscriber_status != "active":
        return _Skip(claim.subscriber_status[:16])  # opted out or unreachable since recorded
    if claim.channel_id != store.SMS and claim.channel_status != "active":
        return _Skip("channel_" + (claim.channel_status or "gone")[:8])
    key = (claim.alert_id, claim.version, claim.language, first_contact)
    if key not in messages:
        messages[key] = _render_or_reason(app, session, dispatcher, *key)
    message = messages[key]
    if isinstance(message, SendResult):
        return message
    now = dispatcher.clock()
    if now >= message.expires:
        return SendResult(
            "failed", error_code=EXPIRED, reason="the alert version expired before it was sent"
        )
    if claim.channel_id == store.SMS:
        if claim.phone is None:
            return _Skip("no_phone")
        validity = int((message.expires - now).total_seconds())
        callback = f"{dispatcher.public_url}/webhooks/twilio/status"
        send_sync: Callable[..., SendResult] = dispatcher.sms.send_sms
        send: Callable[..., Any] = functools.partial(send_sms_async, dispatcher.sms)
        if isinstance(dispatcher.sms, FailoverSmsProvider):
            # Not the provider that put this message off last (Delivery.provider), whichever
            # worker process that was, when another shares the traffic.
            send_sync = functools.partial(dispatcher.sms.send_sms, avoid=claim.provider)
            send = functools.partial(dispatcher.sms.send_sms_async, avoid=claim.provider)
        if sms_later:
            return _Sms(
                functools.partial(
                    send,
                    to=claim.phone,
                    body=message.sms,
                    validity_seconds=validity,
                    status_callback=callback,
                )
            )
        dispatcher.bucket.take()
        return send_sync(
            to=claim.phone, body=message.sms, validity_seconds=validity, status_callback=callback
        )
    if dispatcher.channels is None or claim.url is None:
        return SendResult("failed", error_code=NO_CHANNEL, reason="no channel sender or URL")
    files = {} if files is None else files
    if (claim.alert_id, claim.version) not in files:
        files[claim.alert_id, claim.version] = version_attachments(
            session=session,
            alert_id=claim.alert_id,
            version=claim.version,
            public_url=dispatcher.public_url,
        )
    with app.app_context():  # the unsubscribe line is worded in the channel's language
        return dispatcher.channels.send(
            channel_id=claim.channel_id,
            url=claim.url,
            title=message.title,
            body=message.body,
            language=claim.language,
            attachments=files[claim.alert_id, claim.version],
        )


def _render_or_reason(
    app: Flask,
    session: Session,
    dispatcher: Dispatcher,
    alert_id: int,
    version: int,
    language: str,
    everything: bool,
) -> _Message | SendResult:
    """The message in `language`, or the retry every delivery of it gets if it cannot be
    rendered (remembered for the batch, so a broken one is tried once per batch)."""
    try:
        return _render(app, session, dispatcher, alert_id, version, language, everything)
    except Exception as error:
        log.exception("alert %s v%s could not be rendered in %r", alert_id, version, language)
        session.rollback()
        return SendResult("retry", error_code=RENDER_FAILED, reason=_describe(error))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _outcome(
    claim: Claim, result: SendResult | _Skip, now: datetime.datetime, dispatcher: Dispatcher
) -> dict[str, Any]:
    done = {"id": claim.id, "lease_until": None, "updated_at": now}
    if isinstance(result, _Skip):
        return {**done, "status": "skipped", "error_code": result.error_code, "reason": None}
    reason = f"{result.error_code}: {result.reason}" if result.reason else result.error_code
    if result.outcome == "accepted":
        return {
            **done,
            "status": result.status or "queued",
            "provider": result.provider,  # which provider took it, where several share
            "provider_id": result.provider_id,
            "sent_at": now,
            "error_code": None,
            "reason": None,
        }
    if result.outcome == "retry" and not result.spends_attempt:
        # The provider said it took nothing and to try later: the claim is given back, so
        # only the alert's expiry ends the tries, and the backoff keeps growing meanwhile.
        return {
            **done,
            "status": "pending",
            "attempts": claim.attempts - 1,
            "deferrals": claim.deferrals + 1,
            "next_attempt_at": now + _wait(claim, result, dispatcher),
            "provider": result.provider,  # which provider put it off: the next try avoids it
            "error_code": result.error_code,
            "reason": _clip(reason),
        }
    if result.outcome == "retry" and claim.attempts >= dispatcher.max_attempts:
        result = SendResult(
            "failed",
            error_code=GAVE_UP,
            reason=f"gave up after {claim.attempts} attempts; the last: {reason or 'no answer'}",
        )
        reason = result.reason
    if result.outcome == "retry":
        return {
            **done,
            "status": "pending",
            "next_attempt_at": now + _wait(claim, result, dispatcher),
            "provider": result.provider,  # as above
            "error_code": result.error_code,
            "reason": _clip(reason),
        }
    if result.reason:
        log.warning("delivery %s failed: %s", claim.id, result.reason)
    return {**done, "status": "failed", "error_code": result.error_code, "reason": _clip(reason)}


def _wait(claim: Claim, result: SendResult, dispatcher: Dispatcher) -> datetime.timedelta:
    """How long a delivery to try again waits: the backoff, or longer if the provider asked."""
    wait = dispatcher.backoff(claim.attempts + claim.deferrals)
    if result.retry_after:
        wait = max(wait, datetime.timedelta(seconds=result.retry_after))
    return wait


def _clip(reason: str | None) -> str | None:
    if reason is None or len(reason) <= REASON_LENGTH:
        return reason
    return reason[: REASON_LENGTH - 1] + "…"


def _render(
    app: Flask,
    session: Session,
    dispatcher: Dispatcher,
    alert_id: int,
    version: int,
    language: str,
    everything: bool = False,
) -> _Message:
    alert = alert_store.get_alert(session=session, alert_id=alert_id)
    assert alert is not None
    versions = alert_store.fetch_versions(session=session, alert_id=alert_id)
    row = next(v for v in versions if v.version == version)
    # An update says what changed against the version before it, to those who got that one;
    # to anyone else (`everything`), and on channels, which have no budget, it says it all.
    previous = (
        None
        if everything
        else next((v.content for v in versions if v.version == version - 1), None)
    )
    agency = alert_store.get_agency(session=session, agency_id=alert.agency_id).name
    kind: Kind = KINDS[row.msg_type]
    link = f"{dispatcher.public_url}/a/{alert_id}"
    with app.app_context():
        sms = render_sms(
            alert_content=row.content,
            previous_content=previous,
            kind=kind,
            cancel_reason=alert.cancel_reason,
            agency=agency,
            language=language,
            link=link,
            budget=dispatcher.segment_budget,
        )
        title, body = render_channel(
            alert_content=row.content,
            previous_content=None,
            kind=kind,
            cancel_reason=alert.cancel_reason,
            agency=agency,
            language=language,
            link=link,
        )
    # A cancellation is worth sending until the cancelled version's own expiry.
    return _Message(sms, title, body, row.expires)


def apply_status_callback(
    *,
    session: Session,
    provider_id: str,
    status: str,
    error_code: str | None,
    on_permanent: Callable[[Session, int, str], None] | None = None,
) -> int | None:
    """Record a provider's status report for one message; returns the subscriber it was for
    when the delivery changed.

    A final failure with a permanent code (21610: replied STOP; 21211, 30005, 30006: no such
    mobile number) is passed to `on_permanent` with the message's subscriber, even when the
    report repeats one already recorded: that number is sent nothing more.
    """
    with write(session):
        subscriber_id = store.apply_status(
            session=session,
            provider_id=provider_id,
            status=status,
            error_code=error_code,
            at=utcnow(),
        )
        final = status in ("undelivered", "failed")
        if on_permanent is not None and final and error_code in PERMANENT_CODES:
            target = subscriber_id or store.find_message_subscriber(
                session=session, provider_id=provider_id
            )
            if target is not None:
                log.info("message %s: error %s, subscriber %s", provider_id, error_code, target)
                on_permanent(session, target, error_code)
    return subscriber_id


# Deliveries in these states still wait to be sent (or to be sent again).
_WAITING = frozenset({"pending", "sending"})


def progress(
    *, session: Session, alert_id: int, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """Delivery counts by version, channel and status, with the first and last send times,
    and how sending goes: per version the deliveries still to send (`remaining`), the send
    rate (`rate_per_minute`) and the expected seconds to finish (`eta_seconds`); at the top,
    the same for the newest version still sending (or the newest version once all are done).

    The rate is the version's deliveries done over the time since its first send: a stalled
    provider makes it fall, and the expected time grow, tick by tick. Both are None until a
    first delivery has been sent.
    """
    now = now or utcnow()
    versions: dict[int, dict[str, Any]] = {}
    spans: dict[int, tuple[datetime.datetime | None, datetime.datetime | None]] = {}
    first: datetime.datetime | None = None
    last: datetime.datetime | None = None
    for version, kind, status, count, started, ended in store.delivery_counts(
        session=session, alert_id=alert_id
    ):
        entry = versions.setdefault(
            version, {"version": version, "total": 0, "remaining": 0, "by_channel": {}}
        )
        entry["total"] += count
        entry["by_channel"].setdefault(kind, {})[status] = count
        if status in _WAITING:
            entry["remaining"] += count
        began, ended_at = spans.get(version, (None, None))
        spans[version] = (
            min(filter(None, (began, started)), default=None),
            max(filter(None, (ended_at, ended)), default=None),
        )
        first = min(filter(None, (first, started)), default=None)
        last = max(filter(None, (last, ended)), default=None)
    for version, entry in versions.items():
        entry.update(_pace(entry["total"], entry["remaining"], *spans[version], now=now))
    sending = [v for v in versions.values() if v["remaining"]] or list(versions.values())[-1:]
    current = sending[-1] if sending else None
    return {
        "alert_id": alert_id,
        "versions": list(versions.values()),
        "first_sent_at": first.isoformat() if first else None,
        "last_sent_at": last.isoformat() if last else None,
        "remaining": sum(v["remaining"] for v in versions.values()),
        "rate_per_minute": current["rate_per_minute"] if current else None,
        "eta_seconds": current["eta_seconds"] if current else None,
    }


def _pace(
    total: int,
    remaining: int,
    began: datetime.datetime | None,
    ended: datetime.datetime | None,
    *,
    now: datetime.datetime,
) -> dict[str, float | None]:
    """A version's send rate per minute and expected seconds to finish (None: no send yet)."""
    done = total - remaining
    if began is None or not done:
        return {"rate_per_minute": None, "eta_seconds": None}
    # While deliveries wait, the clock runs to now; once done, to the last send.
    until = now if remaining or ended is None else ended
    seconds = max((until - began).total_seconds(), 1.0)
    rate = done / seconds
    return {
        "rate_per_minute": round(rate * 60, 1),
        "eta_seconds": round(remaining / rate, 1) if remaining else 0.0,
    }
