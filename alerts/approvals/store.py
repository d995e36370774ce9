"""Every query and write of approver notices. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from alerts.models import Alert, ApproverNotice


@dataclasses.dataclass(frozen=True)
class NoticeClaim:
    """One claimed notice."""

    id: int
    alert_id: int
    officer_id: int
    agency_id: int  # the alert's
    attempts: int  # this claim included


def save_notices(
    *,
    session: Session,
    alert_id: int,
    officer_ids: Sequence[int],
    at: datetime.datetime,
) -> None:
    """One pending notice of an alert per approver, due at once. Notices of the alert's
    earlier submits still waiting are skipped: they were about a review that has ended."""
    session.execute(
        update(ApproverNotice)
        .where(ApproverNotice.alert_id == alert_id, ApproverNotice.status == "pending")
        .values(status="skipped", reason="superseded: the alert was submitted again")
    )
    if not officer_ids:
        return
    session.execute(
        insert(ApproverNotice),
        [
            {
                "alert_id": alert_id,
                "officer_id": officer_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for officer_id in officer_ids
        ],
    )


def _due(now: datetime.datetime) -> Any:
    """Notices due now: pending and due, or claimed by a worker whose lease ran out."""
    return or_(
        (ApproverNotice.status == "pending") & (ApproverNotice.next_attempt_at <= now),
        (ApproverNotice.status == "sending") & (ApproverNotice.lease_until < now),
    )


def has_due_notices(*, session: Session, now: datetime.datetime) -> bool:
    """Whether a notice is due (new, to retry, or abandoned by a dead worker)."""
    return session.scalar(select(ApproverNotice.id).where(_due(now)).limit(1)) is not None


def claim_notice(
    *, session: Session, now: datetime.datetime, lease: datetime.timedelta
) -> NoticeClaim | None:
    """Lease the notice due longest; None when nothing is due. The claim counts as an
    attempt, so one whose worker died before recording its outcome is counted too."""
    query = (
        select(ApproverNotice.id)
        .where(_due(now))
        .order_by(ApproverNotice.next_attempt_at, ApproverNotice.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Workers skip each other's rows; SQLite has one writer at a time anyway.
        query = query.with_for_update(skip_locked=True)
    notice_id = session.scalar(query)
    if notice_id is None:
        return None
    session.execute(
        update(ApproverNotice)
        .where(ApproverNotice.id == notice_id)
        .values(status="sending", lease_until=now + lease, attempts=ApproverNotice.attempts + 1)
    )
    row = session.execute(
        select(
            ApproverNotice.id,
            ApproverNotice.alert_id,
            ApproverNotice.officer_id,
            Alert.agency_id,
            ApproverNotice.attempts,
        )
        .join(Alert, Alert.id == ApproverNotice.alert_id)
        .where(ApproverNotice.id == notice_id)
    ).one()
    return NoticeClaim(**row._asdict())


def save_notice_outcome(
    *,
    session: Session,
    notice_id: int,
    held_until: datetime.datetime,
    values: dict[str, Any],
) -> bool:
    """Record a notice's outcome if the caller still holds its claim (it is `sending` under a
    lease no later than the caller's); whether it did. A notice another worker took over
    after the caller's lease ran out is that worker's to record."""
    saved = session.execute(
        update(ApproverNotice)
        .where(
            ApproverNotice.id == notice_id,
            ApproverNotice.status == "sending",
            ApproverNotice.lease_until <= held_until,
        )
        .values(**values)
        .returning(ApproverNotice.id)
    ).first()
    return saved is not None
