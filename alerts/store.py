"""Every query and write of the alerts domain. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Row, String, and_, cast, func, or_, select, update
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
from haven.db import UTCDateTime, among, take_numbers

RowT = TypeVar("RowT")
LOCATIONS = "locations"  # the counter that orders subscriber-location changes
# The counter that orders subscribers' languages: taken by every new subscriber and every
# change of a language (`Subscriber.language_seq`).
LANGUAGE_CHANGES = "subscriber_languages"

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


def get_officer(*, session: Session, officer_id: int) -> Officer | None:
    """The officer with this id, as they are now (revoked or not)."""
    return session.get(Officer, officer_id)


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


def fetch_agency_alerts(
    *,
    session: Session,
    agency_id: int,
    states: Sequence[str],
    before_id: int | None,
    limit: int,
    created_by: int | None = None,
    oldest_first: bool = False,
) -> list[Alert]:
    """An agency's alerts in any of `states` (all if none), created by `created_by` when given,
    at most `limit`: newest first with ids below `before_id`, or `oldest_first` with ids above
    it (`before_id` is then the id the page comes after)."""
    query = select(Alert).where(Alert.agency_id == agency_id)
    if states:
        query = query.where(Alert.state.in_(list(states)))
    if created_by is not None:
        query = query.where(Alert.created_by == created_by)
    if oldest_first:
        if before_id is not None:
            query = query.where(Alert.id > before_id)
        return list(session.scalars(query.order_by(Alert.id).limit(limit)))
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def fetch_editors(*, session: Session, alert_ids: Sequence[int]) -> dict[int, set[int]]:
    """For each of these alerts, every officer who wrote its content (as `fetch_editor_ids`)."""
    editors: dict[int, set[int]] = {alert_id: set() for alert_id in alert_ids}
    if not alert_ids:
        return editors
    rows = session.execute(
        select(AuditEntry.alert_id, AuditEntry.officer_id).where(
            AuditEntry.alert_id.in_(list(alert_ids)),
            AuditEntry.action.in_(("created", "updated")),
            AuditEntry.officer_id.is_not(None),
        )
    )
    for alert_id, officer_id in rows:
        if alert_id is not None and officer_id is not None:
            editors[alert_id].add(officer_id)
    return editors


def fetch_submitted_at(
    *, session: Session, alert_ids: Sequence[int]
) -> dict[int, datetime.datetime]:
    """When each of these alerts was last submitted for approval (alerts never submitted are
    left out)."""
    if not alert_ids:
        return {}
    rows = session.execute(
        select(AuditEntry.alert_id, func.max(AuditEntry.at))
        .where(AuditEntry.alert_id.in_(list(alert_ids)), AuditEntry.action == "submitted")
        .group_by(AuditEntry.alert_id)
    )
    return {alert_id: at for alert_id, at in rows if alert_id is not None and at is not None}


def get_last_alert_id(*, session: Session) -> int:
    """The highest alert id given so far (0 if none)."""
    return session.scalar(select(func.max(Alert.id))) or 0


def fetch_approvers_to_notify(*, session: Session, agency_id: int, except_id: int) -> list[Officer]:
    """An agency's unrevoked approvers with a notification address, but for one officer."""
    return list(
        session.scalars(
            select(Officer)
            .where(
                Officer.agency_id == agency_id,
                Officer.is_approver,
                Officer.revoked_at.is_(None),
                Officer.notify_to.is_not(None),
                Officer.id != except_id,
            )
            .order_by(Officer.id)
        )
    )


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


def fetch_subscribers_by_phone(*, session: Session, phones: Sequence[str]) -> dict[str, int]:
    """Ids of the subscribers among these phone numbers."""
    if not phones:
        return {}
    rows = session.execute(
        select(Subscriber.phone, Subscriber.id).where(among(session, Subscriber.phone, phones))
    ).all()
    return {phone: subscriber_id for phone, subscriber_id in rows if phone is not None}


def get_last_language_seq(*, session: Session) -> int:
    """The highest subscriber-language number committed so far."""
    return session.scalar(select(func.max(Subscriber.language_seq))) or 0


def fetch_language_ids(
    *, session: Session, up_to_seq: int, default: str
) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """The ids of the subscribers of each language but `default`, among those whose language
    is numbered up to `up_to_seq`. One scan: each language's ids come as one text, parsed by
    numpy (a row per subscriber would cost seconds at millions)."""
    rows = session.execute(
        select(Subscriber.language, func.aggregate_strings(cast(Subscriber.id, String), ","))
        .where(Subscriber.language != default, Subscriber.language_seq <= up_to_seq)
        .group_by(Subscriber.language)
    )
    return {language: np.fromstring(ids, dtype=np.int64, sep=",") for language, ids in rows}


def fetch_language_changes(
    *, session: Session, after_seq: int, up_to_seq: int, default: str, below_id: int
) -> list[tuple[int, str]]:
    """(id, language) of the subscribers whose language is numbered above `after_seq` and up
    to `up_to_seq` (an index range): those of another language than `default`, and those of
    `default` with an id below `below_id` (the others need no change where defaults are
    implied)."""
    rows = session.execute(
        select(Subscriber.id, Subscriber.language).where(
            Subscriber.language_seq > after_seq,
            Subscriber.language_seq <= up_to_seq,
            or_(Subscriber.language != default, Subscriber.id < below_id),
        )
    )
    return [(subscriber_id, language) for subscriber_id, language in rows]


def count_locations(*, session: Session, subscriber_ids: Sequence[int]) -> dict[int, int]:
    """How many active locations each of these subscribers has."""
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(SubscriberLocation.subscriber_id, func.count())
        .where(
            among(session, SubscriberLocation.subscriber_id, subscriber_ids),
            SubscriberLocation.active,
        )
        .group_by(SubscriberLocation.subscriber_id)
    )
    return {subscriber_id: n for subscriber_id, n in rows}


# New subscribers in bulk: one INSERT ... SELECT from a JSON parameter (SQLite) or from a
# staging table filled by COPY (PostgreSQL), skipping any number already taken (a sign-up
# that committed meanwhile), returning the ids it gave. Measured on PostgreSQL for 1M
# numbers: the client spent 1.4 s with COPY and 2.8 s passing arrays to unnest(). Each row
# gets its language number from a range taken for all the rows, the first plus its position
# (a row skipped leaves its number unused).
_INSERT_NEW_SUBSCRIBERS = {
    "postgresql": """
        INSERT INTO subscriber (phone, language, status, is_tester, created_at, language_seq)
        SELECT phone, language, 'active', false, %s, %s + row_number() OVER () - 1
        FROM haven_import_subscriber
        ON CONFLICT (phone) DO NOTHING
        RETURNING phone, id""",
    # WHERE true: SQLite's upsert after INSERT ... SELECT needs it to parse.
    "sqlite": """
        INSERT INTO subscriber (phone, language, status, is_tester, created_at, language_seq)
        SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'active', 0, ?, ? + key
        FROM json_each(?) WHERE true
        ON CONFLICT (phone) DO NOTHING
        RETURNING phone, id""",
}


def add_new_subscribers(
    *, session: Session, rows: Sequence[tuple[str, str]], created_at: datetime.datetime
) -> dict[str, int]:
    """Insert active subscribers from (phone, language) pairs in one statement, numbered for
    the language counts. A phone that is already a subscriber's is left as it is; returns the
    ids of those inserted by phone."""
    if not rows:
        return {}
    first = take_numbers(session, LANGUAGE_CHANGES, len(rows)).start
    connection = session.connection()
    dialect = connection.dialect
    # The driver's own cursor: SQLAlchemy's rows cost more than the insert (1.3 µs a row).
    # The timestamp is stored exactly as the UTCDateTime column stores it.
    stamp = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    created = stamp(created_at) if stamp else created_at
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if dialect.name != "postgresql":
        cursor.execute(_INSERT_NEW_SUBSCRIBERS["sqlite"], (created, first, json.dumps(rows)))
        return dict(cursor.fetchall())
    # Created and dropped inside this transaction (a rollback drops it too).
    cursor.execute(
        "CREATE TEMPORARY TABLE haven_import_subscriber (phone text, language text) ON COMMIT DROP"
    )
    with cursor.copy("COPY haven_import_subscriber (phone, language) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(_INSERT_NEW_SUBSCRIBERS["postgresql"], (created, first))
    inserted = dict(cursor.fetchall())
    cursor.execute("DROP TABLE haven_import_subscriber")
    return inserted


_LOCATION_COLUMNS = "subscriber_id, lat, lon, zip, active, seq"


def add_locations(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert locations ({subscriber_id, lat, lon, zip}), numbered for the audience index."""
    add_location_rows(
        session=session,
        rows=[(row["subscriber_id"], row["lat"], row["lon"], row["zip"]) for row in rows],
    )


def add_location_rows(
    *, session: Session, rows: Sequence[tuple[int, float, float, str | None]]
) -> None:
    """Insert locations given as (subscriber_id, lat, lon, zip), numbered for the audience
    index: COPY on PostgreSQL, one executemany on SQLite, without per-row type processing."""
    if not rows:
        return
    numbers = take_numbers(session, LOCATIONS, len(rows))
    values = [(*row, True, seq) for row, seq in zip(rows, numbers, strict=True)]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(
            "INSERT INTO subscriber_location (subscriber_id, lat, lon, zip, active, seq)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            values,
        )
        return
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY subscriber_location ({_LOCATION_COLUMNS}) FROM STDIN") as copy:
        for value in values:
            copy.write_row(value)


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
