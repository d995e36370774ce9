"""Every query and write of the alerts domain. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ARRAY, Row, Table, and_, any_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, defer

from alerts.models import (
    Agency,
    Alert,
    AlertPhoto,
    AlertVersion,
    AuditEntry,
    Officer,
    Subscriber,
    SubscriberLocation,
)
from haven.db import take_numbers

RowT = TypeVar("RowT")
LOCATIONS = "locations"  # the counter that orders subscriber-location changes

# (location id, subscriber id, lon, lat, active, seq)
LocationRow = Row[int, int, float, float, bool, int]


def save(*, session: Session, row: RowT) -> RowT:
    """Store a new row and give it its id."""
    session.add(row)
    session.flush()
    return row


# Agencies and officers


def get_agency_by_name(*, session: Session, name: str) -> Agency | None:
    """The agency of that name."""
    return session.scalar(select(Agency).where(Agency.name == name))


def get_agency(*, session: Session, agency_id: int) -> Agency:
    """The agency with that id."""
    return session.get_one(Agency, agency_id)


def get_officer_by_name(*, session: Session, agency_id: int, name: str) -> Officer | None:
    """An agency's officer by name."""
    return session.scalar(
        select(Officer).where(Officer.agency_id == agency_id, Officer.name == name)
    )


def get_active_officer(*, session: Session, key_hash: str) -> Officer | None:
    """The unrevoked officer whose API key has this hash."""
    return session.scalar(
        select(Officer).where(Officer.api_key_hash == key_hash, Officer.revoked_at.is_(None))
    )


def fetch_officer_names(*, session: Session, agency_id: int) -> dict[int, str]:
    """An agency's officers' names by id."""
    rows = session.execute(select(Officer.id, Officer.name).where(Officer.agency_id == agency_id))
    return {officer_id: name for officer_id, name in rows}


# Alerts


def get_alert(
    *, session: Session, alert_id: int, for_update: bool = False, with_content: bool = True
) -> Alert | None:
    """An alert by id (locked for the rest of the transaction with `for_update`).

    Without `with_content`, its content and audience are read only when first touched: a
    public page served from the cache never reads an area's vertices.
    """
    query = select(Alert).where(Alert.id == alert_id)
    if not with_content:
        query = query.options(defer(Alert.content), defer(Alert.audience))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def fetch_active_alerts(
    *, session: Session, now: datetime.datetime, with_content: bool = True
) -> list[Alert]:
    """Alerts that are out and not yet expired, newest first (`with_content`: as `get_alert`)."""
    query = (
        select(Alert)
        .where(Alert.state == "active", Alert.expires > now, Alert.status == "Actual")
        .order_by(Alert.sent_at.desc())
    )
    if not with_content:
        query = query.options(defer(Alert.content), defer(Alert.audience))
    return list(session.scalars(query))


def fetch_past_alerts(*, session: Session, limit: int, with_content: bool = True) -> list[Alert]:
    """Actual alerts that went out and have ended (cancelled or expired), newest first, at
    most `limit` (`with_content`: as `get_alert`)."""
    query = (
        select(Alert)
        .where(
            Alert.status == "Actual",
            Alert.state.in_(("cancelled", "expired")),
            Alert.sent_at.is_not(None),
        )
        .order_by(Alert.sent_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if not with_content:
        query = query.options(defer(Alert.content), defer(Alert.audience))
    return list(session.scalars(query))


@dataclass(frozen=True)
class VersionSent:
    """When one version of an alert went out, and as what, without its content."""

    version: int
    msg_type: str  # Alert, Update or Cancel
    sent_at: datetime.datetime
    note: str | None


def fetch_versions_sent(*, session: Session, alert_id: int) -> list[VersionSent]:
    """When each version of an alert went out, oldest first (no content is read)."""
    query = (
        select(AlertVersion.version, AlertVersion.msg_type, AlertVersion.sent_at, AlertVersion.note)
        .where(AlertVersion.alert_id == alert_id)
        .order_by(AlertVersion.version)
    )
    return [VersionSent(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class Published:
    """An alert with the message type and send time of its current version."""

    alert: Alert
    msg_type: str  # Alert, Update or Cancel
    sent_at: datetime.datetime


def fetch_feed_alerts(
    *,
    session: Session,
    now: datetime.datetime,
    cancelled_since: datetime.datetime,
    with_content: bool = True,
) -> list[Published]:
    """Actual alerts that are out and not yet expired, and those whose cancellation went out
    after `cancelled_since`, newest message first (`with_content`: as `get_alert`)."""
    current = and_(AlertVersion.alert_id == Alert.id, AlertVersion.version == Alert.version)
    query = (
        select(Alert, AlertVersion.msg_type, AlertVersion.sent_at)
        .join(AlertVersion, current)
        .where(
            Alert.status == "Actual",
            or_(
                and_(Alert.state == "active", Alert.expires > now),
                and_(
                    Alert.state == "cancelled",
                    AlertVersion.msg_type == "Cancel",
                    AlertVersion.sent_at > cancelled_since,
                ),
            ),
        )
        .order_by(AlertVersion.sent_at.desc(), Alert.id.desc())
    )
    if not with_content:
        query = query.options(defer(Alert.content), defer(Alert.audience))
    return [
        Published(alert, msg_type, sent_at) for alert, msg_type, sent_at in session.execute(query)
    ]


def fetch_expired_alert_ids(*, session: Session, now: datetime.datetime) -> list[int]:
    """Active alerts whose expiry has passed."""
    return list(
        session.scalars(select(Alert.id).where(Alert.state == "active", Alert.expires <= now))
    )


def fetch_versions(*, session: Session, alert_id: int) -> list[AlertVersion]:
    """Every version of an alert that went out, oldest first."""
    return list(
        session.scalars(
            select(AlertVersion)
            .where(AlertVersion.alert_id == alert_id)
            .order_by(AlertVersion.version)
        )
    )


def fetch_audit(*, session: Session, alert_id: int) -> list[AuditEntry]:
    """An alert's audit trail, oldest first."""
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.alert_id == alert_id).order_by(AuditEntry.id)
        )
    )


def fetch_editor_ids(*, session: Session, alert_id: int) -> set[int]:
    """Every officer who wrote an alert's content: its creator and everyone who updated it."""
    ids = session.scalars(
        select(AuditEntry.officer_id).where(
            AuditEntry.alert_id == alert_id, AuditEntry.action.in_(("created", "updated"))
        )
    )
    return {officer_id for officer_id in ids if officer_id is not None}


# Children's photos


def fetch_photos(*, session: Session, alert_id: int) -> list[AlertPhoto]:
    """An alert's stored photos, oldest first, without their bytes."""
    return list(
        session.scalars(
            select(AlertPhoto)
            .where(AlertPhoto.alert_id == alert_id)
            .order_by(AlertPhoto.id)
            .options(defer(AlertPhoto.data))
        )
    )


def get_photo_data(*, session: Session, alert_id: int, digest: str) -> bytes | None:
    """The bytes of the alert's photo with this SHA-256 (hex), or None."""
    return session.scalar(
        select(AlertPhoto.data)
        .where(AlertPhoto.alert_id == alert_id, AlertPhoto.digest == digest)
        .limit(1)
    )


# Subscribers and their locations


def fetch_tester_ids(*, session: Session) -> list[int]:
    """Subscribers who receive Test and Exercise alerts."""
    return list(
        session.scalars(
            select(Subscriber.id).where(Subscriber.is_tester, Subscriber.status == "active")
        )
    )


def get_subscriber_by_phone(*, session: Session, phone: str) -> Subscriber | None:
    """The subscriber with this E.164 number."""
    return session.scalar(select(Subscriber).where(Subscriber.phone == phone))


def _among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`, as one array parameter on PostgreSQL (thousands of values)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def fetch_subscribers_by_phone(*, session: Session, phones: Sequence[str]) -> dict[str, int]:
    """Ids of the subscribers among these phone numbers."""
    if not phones:
        return {}
    rows = session.execute(
        select(Subscriber.phone, Subscriber.id).where(_among(session, Subscriber.phone, phones))
    )
    return {phone: subscriber_id for phone, subscriber_id in rows if phone is not None}


def count_locations(*, session: Session, subscriber_ids: Sequence[int]) -> dict[int, int]:
    """How many active locations each of these subscribers has."""
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(SubscriberLocation.subscriber_id, func.count())
        .where(
            _among(session, SubscriberLocation.subscriber_id, subscriber_ids),
            SubscriberLocation.active,
        )
        .group_by(SubscriberLocation.subscriber_id)
    )
    return {subscriber_id: n for subscriber_id, n in rows}


def _bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def add_subscribers(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert subscribers in bulk."""
    _bulk_insert(session, cast(Table, Subscriber.__table__), rows)


def add_locations(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert locations ({subscriber_id, lat, lon, zip}), numbered for the audience index."""
    numbers = take_numbers(session, LOCATIONS, len(rows))
    _bulk_insert(
        session,
        cast(Table, SubscriberLocation.__table__),
        [{**row, "active": True, "seq": seq} for row, seq in zip(rows, numbers, strict=True)],
    )


def set_subscriber_locations_active(*, session: Session, subscriber_id: int, active: bool) -> None:
    """Take a subscriber's locations out of the audience (opt-out) or put them back."""
    ids = list(
        session.scalars(
            select(SubscriberLocation.id).where(SubscriberLocation.subscriber_id == subscriber_id)
        )
    )
    for location_id, seq in zip(ids, take_numbers(session, LOCATIONS, len(ids)), strict=True):
        session.execute(
            update(SubscriberLocation)
            .where(SubscriberLocation.id == location_id)
            .values(active=active, seq=seq)
        )


def get_last_location_seq(*, session: Session) -> int:
    """The highest location change number committed so far."""
    return session.scalar(select(func.max(SubscriberLocation.seq))) or 0


def stream_locations(
    *, session: Session, after_seq: int, up_to_seq: int | None = None, batch: int = 200_000
) -> Iterator[Sequence[LocationRow]]:
    """Location rows changed after `after_seq` (up to `up_to_seq`), in batches, by seq."""
    query = select(
        SubscriberLocation.id,
        SubscriberLocation.subscriber_id,
        SubscriberLocation.lon,
        SubscriberLocation.lat,
        SubscriberLocation.active,
        SubscriberLocation.seq,
    ).where(SubscriberLocation.seq > after_seq)
    if up_to_seq is not None:
        query = query.where(SubscriberLocation.seq <= up_to_seq)
    result = session.execute(
        query.order_by(SubscriberLocation.seq).execution_options(yield_per=batch)
    )
    yield from result.partitions()
