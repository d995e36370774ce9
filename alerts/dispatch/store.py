"""Every query and write of dispatch. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, Table, bindparam, case, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from alerts.models import Channel, Delivery, DispatchJob, Subscriber
from haven.db import among, insert_for

SMS = 0  # Delivery.channel_id of an SMS to the subscriber's phone
# What a sender claims: SMS, or deliveries to channels. Never both in one batch, so an SMS
# never waits behind a slow channel.
DeliveryKind = Literal["sms", "channel"]
# Statuses from which a message counts as having reached (or being on its way to) someone.
REACHED = ("queued", "sent", "delivered", "undelivered")
FINAL = ("delivered", "undelivered", "failed", "skipped")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claimed delivery, with what sending it needs."""

    id: int
    alert_id: int
    version: int
    subscriber_id: int
    channel_id: int
    attempts: int  # this claim included
    deferrals: int  # "try later" answers so far (alerts.models.Delivery.deferrals)
    phone: str | None
    language: str
    subscriber_status: str
    url: str | None  # a channel's Apprise URL
    channel_status: str | None
    error_code: str | None  # of the attempt before, if any
    provider: str | None  # the SMS provider that put the attempt before off, if any


def _skip_locked(session: Session, query: Any) -> Any:
    # PostgreSQL workers skip each other's rows; SQLite has one writer at a time anyway.
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def save_job(
    *, session: Session, alert_id: int, version: int, msg_type: str, at: datetime.datetime
) -> None:
    """Queue an alert version for dispatch (a second request for the same version is a no-op)."""
    session.execute(
        insert_for(session, DispatchJob)
        .values(
            alert_id=alert_id,
            version=version,
            msg_type=msg_type,
            state="pending",
            recorded=0,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["alert_id", "version"])
    )


def claim_job(
    *, session: Session, now: datetime.datetime, lease: datetime.timedelta
) -> DispatchJob | None:
    """The oldest job still to record whose lease is free, leased to the caller."""
    query = (
        select(DispatchJob)
        .where(
            DispatchJob.state == "pending",
            or_(DispatchJob.lease_until.is_(None), DispatchJob.lease_until < now),
        )
        .order_by(DispatchJob.id)
        .limit(1)
    )
    job: DispatchJob | None = session.scalar(_skip_locked(session, query))
    if job is not None:
        job.lease_until = now + lease
    return job


def get_job(*, session: Session, job_id: int) -> DispatchJob:
    """A job by id, as the database has it now."""
    return session.get_one(DispatchJob, job_id, populate_existing=True)


def fetch_reached_subscribers(
    *, session: Session, alert_id: int, before_version: int
) -> npt.NDArray[np.int32]:
    """Subscribers an earlier version of the alert reached (or is reaching)."""
    ids = session.scalars(
        select(Delivery.subscriber_id)
        .where(
            Delivery.alert_id == alert_id,
            Delivery.version < before_version,
            Delivery.status.in_([*REACHED, "pending", "sending"]),
        )
        .distinct()
    ).all()
    return np.asarray(ids, dtype=np.int32)


def fetch_first_contacts(*, session: Session, claims: Sequence[Claim]) -> set[int]:
    """The ids of the claims for an update whose subscriber no earlier version of the alert
    has reached: they are told everything, not only what changed."""
    updates = [c for c in claims if c.version > 1]
    if not updates:
        return set()
    rows = session.execute(
        select(Delivery.alert_id, Delivery.subscriber_id, func.min(Delivery.version))
        .where(
            Delivery.alert_id.in_({c.alert_id for c in updates}),
            Delivery.subscriber_id.in_({c.subscriber_id for c in updates}),
            Delivery.status.in_(REACHED),
        )
        .group_by(Delivery.alert_id, Delivery.subscriber_id)
    ).all()
    first_reached = {(alert, subscriber): version for alert, subscriber, version in rows}
    return {
        c.id
        for c in updates
        if first_reached.get((c.alert_id, c.subscriber_id), c.version) >= c.version
    }


def record_deliveries(
    *, session: Session, job: DispatchJob, subscriber_ids: Sequence[int], at: datetime.datetime
) -> int:
    """Record one pending delivery for every SMS-able phone (active, with a number) and every
    active channel of an active subscriber among these subscribers, in one INSERT ... SELECT;
    ones already recorded are left alone. Returns how many were added.

    The ids go to the database as one parameter and the rows never come back to Python: a
    chunk of 10,000 costs the worker one statement, not 10,000 bound ids twice over."""
    if not subscriber_ids:
        return 0
    fixed = (
        literal(job.id).label("job_id"),
        literal(job.alert_id).label("alert_id"),
        literal(job.version).label("version"),
    )
    waiting = (
        literal("pending").label("status"),
        literal(0).label("attempts"),
        literal(0).label("deferrals"),
        literal(at, Delivery.next_attempt_at.type).label("next_attempt_at"),
        literal(at, Delivery.updated_at.type).label("updated_at"),
    )
    phones = select(*fixed, Subscriber.id, literal(SMS), *waiting).where(
        among(session, Subscriber.id, subscriber_ids),
        Subscriber.status == "active",
        Subscriber.phone.is_not(None),
    )
    channels = (
        select(*fixed, Channel.subscriber_id, Channel.id, *waiting)
        .join(Subscriber, Subscriber.id == Channel.subscriber_id)
        .where(
            among(session, Channel.subscriber_id, subscriber_ids),
            Channel.status == "active",
            Subscriber.status == "active",
        )
    )
    unique = ["alert_id", "version", "subscriber_id", "channel_id"]
    columns = ["job_id", *unique, "status", "attempts", "deferrals"]
    columns += ["next_attempt_at", "updated_at"]
    statement = (
        insert_for(session, Delivery)
        .from_select(columns, union_all(phones, channels))
        .on_conflict_do_nothing(index_elements=unique)
    )
    # SQLAlchemy keeps the driver's row count of an INSERT only when asked (-1 otherwise).
    result: Any = session.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


def _of_kind(kind: DeliveryKind) -> Any:
    # Channel ids are positive: "> SMS", not "!= SMS", lets ix_delivery_due serve the range.
    return Delivery.channel_id == SMS if kind == "sms" else Delivery.channel_id > SMS


def due_query(*, kind: DeliveryKind, now: datetime.datetime, limit: int) -> Any:
    """Deliveries of one kind waiting to be sent (new, or to retry), longest waiting first.

    For SMS, ix_delivery_due (status, channel_id, next_attempt_at, id) serves it in order, so
    a claim reads `limit` index entries however many wait (a sort of every waiting row, a
    million for a big alert, is what it replaced). Channel ids are a range (> 0), so channel
    messages are found through the index but sorted: only the waiting channel messages."""
    return (
        select(Delivery.id)
        .where(Delivery.status == "pending", _of_kind(kind), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )


def abandoned_query(*, kind: DeliveryKind, now: datetime.datetime, limit: int) -> Any:
    """Deliveries of one kind whose sender's lease ran out (a worker died with them)."""
    return (
        select(Delivery.id)
        .where(Delivery.status == "sending", _of_kind(kind), Delivery.lease_until < now)
        .order_by(Delivery.lease_until, Delivery.id)
        .limit(limit)
    )


def claim_deliveries(
    *,
    session: Session,
    now: datetime.datetime,
    kind: DeliveryKind,
    limit: int,
    lease: datetime.timedelta,
) -> list[Claim]:
    """Lease up to `limit` deliveries of one kind that are due, with what sending them needs.

    Each claim counts as an attempt, so one whose worker died before recording its outcome
    is counted too.
    """
    # Abandoned ones first: they have waited longest. Two queries, not one with an OR, so
    # that each is an ordered index range (see due_query).
    ids = list(
        session.scalars(_skip_locked(session, abandoned_query(kind=kind, now=now, limit=limit)))
    )
    if len(ids) < limit:
        due = due_query(kind=kind, now=now, limit=limit - len(ids))
        ids += session.scalars(_skip_locked(session, due))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(status="sending", lease_until=now + lease, attempts=Delivery.attempts + 1)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.alert_id,
            Delivery.version,
            Delivery.subscriber_id,
            Delivery.channel_id,
            Delivery.attempts,
            Delivery.deferrals,
            Subscriber.phone,
            Subscriber.language,
            Subscriber.status.label("subscriber_status"),
            Channel.url,
            Channel.status.label("channel_status"),
            Delivery.error_code,
            Delivery.provider,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .outerjoin(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    ).all()
    return [Claim(**row._asdict()) for row in rows]


def extend_leases(
    *,
    session: Session,
    ids: Sequence[int],
    held_until: datetime.datetime,
    until: datetime.datetime,
) -> set[int]:
    """Lease these claimed deliveries on until `until`, those the caller still holds; returns
    their ids.

    The caller holds a delivery while it is `sending` under a lease ending no later than
    `held_until` (the caller's own): a worker that took it over after that lease ran out
    leased it later than that.
    """
    if not ids:
        return set()
    extended = session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.status == "sending",
            Delivery.lease_until <= held_until,
        )
        .values(lease_until=until)
        .returning(Delivery.id)
    ).scalars()
    return set(extended)


def release_claims(
    *,
    session: Session,
    ids: Sequence[int],
    held_until: datetime.datetime,
    at: datetime.datetime,
) -> None:
    """Give back claimed deliveries that were not sent: due again at `at`, the claim not
    counted as an attempt. Only those the caller still holds (as in `extend_leases`)."""
    if not ids:
        return
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.status == "sending",
            Delivery.lease_until <= held_until,
        )
        .values(
            status="pending",
            lease_until=None,
            attempts=Delivery.attempts - 1,
            next_attempt_at=at,
        )
    )


def save_outcomes(
    *, session: Session, outcomes: Sequence[dict[str, Any]], held_until: datetime.datetime
) -> None:
    """Write the results of a batch: each dict has `id` and the columns to set. Only for the
    deliveries the caller still holds (as in `extend_leases`): one that another worker took
    over after the caller's lease ran out is that worker's to record.

    Outcomes that set the same columns go in one executemany (pipelined by psycopg), not one
    statement each: a batch's hundreds of accepted messages cost one round of the database."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for outcome in outcomes:
        groups.setdefault(tuple(sorted(outcome)), []).append(outcome)
    table = Delivery.__table__
    assert isinstance(table, Table)
    for columns, rows in groups.items():
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.status == "sending",
                table.c.lease_until <= held_until,
            )
            .values({c: bindparam(f"b_{c}") for c in columns if c != "id"})
        )
        session.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in rows])


_RANK = case(
    {
        "pending": 0,
        "sending": 1,
        "queued": 2,
        "sent": 3,
        "delivered": 4,
        "undelivered": 4,
        "failed": 4,
        "skipped": 4,
    },
    value=Delivery.status,
    else_=0,
)
_NEW_RANK = {"queued": 2, "sending": 1, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4}


def apply_status(
    *,
    session: Session,
    provider_id: str,
    status: str,
    error_code: str | None,
    at: datetime.datetime,
) -> int | None:
    """Move a delivery forward to the provider's reported status (never backwards).

    Returns the subscriber id when a delivery changed.
    """
    row = session.execute(
        update(Delivery)
        .where(Delivery.provider_id == provider_id, _RANK < _NEW_RANK.get(status, 0))  # noqa: SIM300
        .values(status=status, error_code=error_code, updated_at=at)
        .returning(Delivery.subscriber_id)
    ).first()
    return row[0] if row else None


def find_message_subscriber(*, session: Session, provider_id: str) -> int | None:
    """The subscriber a provider's message id was sent to, if it is one of Haven's."""
    return session.scalar(
        select(Delivery.subscriber_id).where(Delivery.provider_id == provider_id).limit(1)
    )


def delivery_counts(
    *, session: Session, alert_id: int
) -> Sequence[Row[int, str, str, int, datetime.datetime | None, datetime.datetime | None]]:
    """(version, channel kind, status, count, first sent, last sent) of an alert's deliveries."""
    kind = case((Delivery.channel_id == SMS, "sms"), else_="apprise")
    return session.execute(
        select(
            Delivery.version,
            kind,
            Delivery.status,
            func.count(),
            func.min(Delivery.sent_at),
            func.max(Delivery.sent_at),
        )
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.version, kind, Delivery.status)
        .order_by(Delivery.version)
    ).all()


def finish_job(*, session: Session, job: DispatchJob, at: datetime.datetime) -> None:
    """Mark a job's deliveries as all recorded."""
    job.state, job.finished_at, job.lease_until = "recorded", at, None


def add_job_progress(*, session: Session, job: DispatchJob, added: int) -> None:
    """Count deliveries a job has just recorded. Added in SQL: a recorder whose lease ran out
    and the one that took over may both be counting."""
    session.execute(
        update(DispatchJob)
        .where(DispatchJob.id == job.id)
        .values(recorded=DispatchJob.recorded + added)
        .execution_options(synchronize_session=False)
    )


def has_pending_jobs(*, session: Session, now: datetime.datetime) -> bool:
    """Whether a dispatch job waits to be recorded (and is not leased)."""
    return (
        session.scalar(
            select(DispatchJob.id)
            .where(
                DispatchJob.state == "pending",
                or_(DispatchJob.lease_until.is_(None), DispatchJob.lease_until < now),
            )
            .limit(1)
        )
        is not None
    )


def has_due_deliveries(*, session: Session, now: datetime.datetime, kind: DeliveryKind) -> bool:
    """Whether a delivery of this kind is due (new, to retry, or abandoned by a dead worker)."""
    return any(
        session.scalar(query(kind=kind, now=now, limit=1)) is not None
        for query in (due_query, abandoned_query)
    )


# For the operator's metrics


def count_deliveries(*, session: Session) -> Sequence[Row[str, str, int]]:
    """(channel kind, status, count) over every delivery recorded."""
    kind = case((Delivery.channel_id == SMS, "sms"), else_="apprise")
    return session.execute(
        select(kind, Delivery.status, func.count()).group_by(kind, Delivery.status)
    ).all()


def count_pending_jobs(*, session: Session) -> int:
    """How many dispatch jobs still wait to have their deliveries recorded."""
    return session.scalar(select(func.count()).where(DispatchJob.state == "pending")) or 0


def get_oldest_due_at(*, session: Session, now: datetime.datetime) -> datetime.datetime | None:
    """When the longest-waiting delivery due now became due (None when nothing is due)."""
    # Per kind: each minimum is then the first entry of an index range (ix_delivery_due).
    kinds: tuple[DeliveryKind, ...] = ("sms", "channel")
    pending = [
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending", _of_kind(kind), Delivery.next_attempt_at <= now
        )
        for kind in kinds
    ]
    abandoned = select(func.min(Delivery.lease_until)).where(
        Delivery.status == "sending", Delivery.lease_until < now
    )
    found = [session.scalar(query) for query in (*pending, abandoned)]
    return min((t for t in found if t is not None), default=None)
