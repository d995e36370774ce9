"""Every query and write of distributors and their pushes. Nothing here commits;
`haven.db.write` does."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from alerts.models import Distributor, DistributorDelivery
from haven.db import insert_for

# A push still to make: due, being made, or waiting out its backoff.
UNFINISHED = ("pending", "sending")


@dataclasses.dataclass(frozen=True)
class PushClaim:
    """One claimed push, with what making it needs."""

    id: int
    distributor_id: int
    name: str
    url: str
    secret: str = dataclasses.field(repr=False)
    removed: bool
    alert_id: int
    alert_version: int
    msg_type: str
    attempts: int  # this claim included
    last_error: str | None  # of the attempt before, if any


# Distributors


def save_distributor(*, session: Session, distributor: Distributor) -> Distributor:
    """Store a new distributor and give it its id."""
    session.add(distributor)
    session.flush()
    return distributor


def get_distributor_by_name(
    *, session: Session, name: str, for_update: bool = False
) -> Distributor | None:
    """The distributor of that name, removed or not."""
    query = select(Distributor).where(Distributor.name == name)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def fetch_distributors(*, session: Session) -> list[Distributor]:
    """Every distributor, removed ones included, by name."""
    return list(session.scalars(select(Distributor).order_by(Distributor.name)))


def fetch_active_distributors(*, session: Session) -> list[Distributor]:
    """The distributors not removed."""
    return list(
        session.scalars(
            select(Distributor).where(Distributor.revoked_at.is_(None)).order_by(Distributor.id)
        )
    )


def note_result(
    *,
    session: Session,
    distributor_id: int,
    at: datetime.datetime,
    error: str | None,
) -> None:
    """Remember a push's outcome on its distributor: a success (no `error`) or a failure."""
    values: dict[str, Any] = (
        {"last_success_at": at} if error is None else {"last_failure_at": at, "last_error": error}
    )
    session.execute(update(Distributor).where(Distributor.id == distributor_id).values(**values))


# Pushes


def fetch_distributor_ids_for_alert(
    *, session: Session, alert_id: int, before_version: int
) -> set[int]:
    """The distributors an earlier version of the alert was pushed to (or is to be)."""
    return set(
        session.scalars(
            select(DistributorDelivery.distributor_id)
            .where(
                DistributorDelivery.alert_id == alert_id,
                DistributorDelivery.alert_version < before_version,
            )
            .distinct()
        )
    )


def save_pushes(
    *,
    session: Session,
    alert_id: int,
    version: int,
    msg_type: str,
    distributor_ids: Sequence[int],
    at: datetime.datetime,
) -> None:
    """One pending push of an alert version per distributor; ones already there stay."""
    if not distributor_ids:
        return
    session.execute(
        insert_for(session, DistributorDelivery).on_conflict_do_nothing(
            index_elements=["distributor_id", "alert_id", "alert_version"]
        ),
        [
            {
                "distributor_id": distributor_id,
                "alert_id": alert_id,
                "alert_version": version,
                "msg_type": msg_type,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for distributor_id in distributor_ids
        ],
    )


def _due(now: datetime.datetime) -> Any:
    """Pushes due now: pending and due, or claimed by a worker whose lease ran out."""
    return or_(
        (DistributorDelivery.status == "pending") & (DistributorDelivery.next_attempt_at <= now),
        (DistributorDelivery.status == "sending") & (DistributorDelivery.lease_until < now),
    )


def _in_order() -> Any:
    """No earlier version of the same alert is still to be pushed to the same distributor:
    an update never overtakes the alert it updates, even while that one is retried."""
    earlier = aliased(DistributorDelivery)
    return ~exists().where(
        earlier.distributor_id == DistributorDelivery.distributor_id,
        earlier.alert_id == DistributorDelivery.alert_id,
        earlier.alert_version < DistributorDelivery.alert_version,
        earlier.status.in_(UNFINISHED),
    )


def claim_push(
    *, session: Session, now: datetime.datetime, lease: datetime.timedelta
) -> PushClaim | None:
    """Lease the push due longest (among those whose earlier versions are done), with what
    making it needs; None when nothing is due. The claim counts as an attempt, so one whose
    worker died before recording its outcome is counted too."""
    query = (
        select(DistributorDelivery.id)
        .where(_due(now), _in_order())
        .order_by(DistributorDelivery.next_attempt_at, DistributorDelivery.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Workers skip each other's rows; SQLite has one writer at a time anyway.
        query = query.with_for_update(skip_locked=True, of=DistributorDelivery)
    push_id = session.scalar(query)
    if push_id is None:
        return None
    session.execute(
        update(DistributorDelivery)
        .where(DistributorDelivery.id == push_id)
        .values(
            status="sending",
            lease_until=now + lease,
            attempts=DistributorDelivery.attempts + 1,
        )
    )
    row = session.execute(
        select(
            DistributorDelivery.id,
            DistributorDelivery.distributor_id,
            Distributor.name,
            Distributor.url,
            Distributor.secret,
            Distributor.revoked_at.is_not(None).label("removed"),
            DistributorDelivery.alert_id,
            DistributorDelivery.alert_version,
            DistributorDelivery.msg_type,
            DistributorDelivery.attempts,
            DistributorDelivery.last_error,
        )
        .join(Distributor, Distributor.id == DistributorDelivery.distributor_id)
        .where(DistributorDelivery.id == push_id)
    ).one()
    return PushClaim(**row._asdict())


def has_due_pushes(*, session: Session, now: datetime.datetime) -> bool:
    """Whether a push is due (new, to retry, or abandoned by a dead worker)."""
    return session.scalar(select(DistributorDelivery.id).where(_due(now)).limit(1)) is not None


def save_push_outcome(
    *,
    session: Session,
    push_id: int,
    held_until: datetime.datetime,
    values: dict[str, Any],
) -> bool:
    """Record a push's outcome if the caller still holds its claim (it is `sending` under a
    lease no later than the caller's); whether it did. A push another worker took over after
    the caller's lease ran out is that worker's to record."""
    saved = session.execute(
        update(DistributorDelivery)
        .where(
            DistributorDelivery.id == push_id,
            DistributorDelivery.status == "sending",
            DistributorDelivery.lease_until <= held_until,
        )
        .values(**values)
        .returning(DistributorDelivery.id)
    ).first()
    return saved is not None


def fail_unfinished(
    *, session: Session, distributor_id: int, at: datetime.datetime, error: str
) -> int:
    """Fail every push still to make to a distributor; returns how many."""
    failed = session.execute(
        update(DistributorDelivery)
        .where(
            DistributorDelivery.distributor_id == distributor_id,
            DistributorDelivery.status.in_(UNFINISHED),
        )
        .values(status="failed", lease_until=None, last_error=error, next_attempt_at=at)
        .returning(DistributorDelivery.id)
    ).all()
    return len(failed)


def count_unfinished(*, session: Session) -> dict[int, int]:
    """Pushes still to make, by distributor id."""
    rows = session.execute(
        select(DistributorDelivery.distributor_id, func.count())
        .where(DistributorDelivery.status.in_(UNFINISHED))
        .group_by(DistributorDelivery.distributor_id)
    )
    return {distributor_id: count for distributor_id, count in rows}


# For the operator's metrics


def count_unfinished_by_name(*, session: Session) -> Sequence[Row[str, int]]:
    """(name, pushes still to make) of every distributor not removed, 0 included."""
    unfinished = (
        select(DistributorDelivery.distributor_id, func.count().label("count"))
        .where(DistributorDelivery.status.in_(UNFINISHED))
        .group_by(DistributorDelivery.distributor_id)
        .subquery()
    )
    return session.execute(
        select(Distributor.name, func.coalesce(unfinished.c.count, 0))
        .outerjoin(unfinished, unfinished.c.distributor_id == Distributor.id)
        .where(Distributor.revoked_at.is_(None))
        .order_by(Distributor.name)
    ).all()


def count_pushes(*, session: Session) -> Sequence[Row[str, str, int]]:
    """(distributor name, status, count) over every push recorded."""
    return session.execute(
        select(Distributor.name, DistributorDelivery.status, func.count())
        .join(Distributor, Distributor.id == DistributorDelivery.distributor_id)
        .group_by(Distributor.name, DistributorDelivery.status)
    ).all()
