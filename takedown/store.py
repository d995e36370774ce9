"""Every query and write of Take It Down. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from takedown.models import (
    ACTIVE,
    Case,
    CaseHash,
    Feedback,
    FeedChange,
    Hash,
    Platform,
)

HashKey = tuple[str, str, str]  # (media, algorithm, value)
# (cursor, hash_id, media, algorithm, value, status, changed_at)
ChangeRow = Row[int, int, str, str, str, str, datetime.datetime]
# (id, media, algorithm, value, changed_at)
HashRow = Row[int, str, str, str, datetime.datetime]
PENDING = "pending"  # a hash row inserted in this transaction, before its first change

# Any constant works; it only has to be the same for every writer of the feed.
_FEED_LOCK = 0x48415645


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def lock_feed(*, session: Session) -> None:
    """Serialise writers of the feed until this transaction ends.

    Cursors must become visible in cursor order, or a poller could skip a change that commits
    after a higher cursor was already read. Writers take this lock just before they pick
    cursors, so commits happen in cursor order. SQLite already serialises writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_LOCK})


# Platforms


def save_platform(*, session: Session, platform: Platform) -> Platform:
    """Store a new platform."""
    session.add(platform)
    session.flush()
    return platform


def get_platform_by_name(*, session: Session, name: str) -> Platform | None:
    """The platform of that name, revoked or not."""
    return session.scalar(select(Platform).where(Platform.name == name))


def get_active_platform(*, session: Session, column: Any, key_hash: str) -> Platform | None:
    """The unrevoked platform whose credential `column` has hash `key_hash`."""
    return session.scalar(select(Platform).where(column == key_hash, Platform.revoked_at.is_(None)))


def fetch_platform_cursors(*, session: Session) -> list[int]:
    """How far each unrevoked platform has fetched the feed."""
    return list(
        session.scalars(select(Platform.fetched_cursor).where(Platform.revoked_at.is_(None)))
    )


def advance_platform_cursor(*, session: Session, platform_id: int, cursor: int) -> None:
    """Record that a platform has fetched every change up to `cursor` (never moves back)."""
    session.execute(
        update(Platform)
        .where(Platform.id == platform_id, Platform.fetched_cursor < cursor)
        .values(fetched_cursor=cursor)
    )


# Cases and hashes


def save_case(*, session: Session, case: Case) -> Case:
    """Store a new case."""
    table = cast(Table, Case.__table__)
    case.id = session.execute(
        insert(table)
        .values(
            number=case.number,
            pin_hash=case.pin_hash,
            status=case.status,
            created_at=case.created_at,
        )
        .returning(table.c.id)
    ).scalar_one()
    return case


def get_case_by_number(*, session: Session, number: str) -> Case | None:
    """The case with that (normalised) number."""
    return session.scalar(select(Case).where(Case.number == number))


def ensure_hashes(
    *, session: Session, keys: Sequence[HashKey], qualities: dict[HashKey, int | None]
) -> dict[HashKey, int]:
    """The ids of these hashes, inserting the ones never seen (race-free across writers)."""
    rows_in = [
        {
            "media": m,
            "algorithm": a,
            "value": v,
            "quality": qualities.get((m, a, v)),
            "status": PENDING,
            "cursor": 0,
            "changed_at": datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
        }
        for m, a, v in keys
    ]
    session.execute(
        _insert(session, Hash.__table__).on_conflict_do_nothing(
            index_elements=["media", "algorithm", "value"]
        ),
        rows_in,
    )
    rows = session.execute(
        select(Hash.media, Hash.algorithm, Hash.value, Hash.id).where(
            tuple_(Hash.media, Hash.algorithm, Hash.value).in_(list(keys))
        )
    )
    return {(m, a, v): hash_id for m, a, v, hash_id in rows}


def link_case_hashes(*, session: Session, case_id: int, hash_ids: Iterable[int]) -> None:
    """Record that a case holds these hashes."""
    session.execute(
        _insert(session, CaseHash.__table__).on_conflict_do_nothing(),
        [{"case_id": case_id, "hash_id": hash_id} for hash_id in hash_ids],
    )


def fetch_hashes(*, session: Session, hash_ids: Iterable[int]) -> list[Hash]:
    """These hashes, by id."""
    return list(session.scalars(select(Hash).where(Hash.id.in_(list(hash_ids)))))


def fetch_case_hashes(*, session: Session, case_id: int) -> list[Hash]:
    """Every hash a case holds, in a stable order."""
    return list(
        session.scalars(
            select(Hash).join(CaseHash).where(CaseHash.case_id == case_id).order_by(Hash.id)
        )
    )


def fetch_hash_ids_held_elsewhere(
    *, session: Session, hash_ids: Iterable[int], case_id: int
) -> set[int]:
    """Which of these hashes another active case still holds."""
    rows = session.scalars(
        select(CaseHash.hash_id)
        .join(Case, Case.id == CaseHash.case_id)
        .where(
            CaseHash.hash_id.in_(list(hash_ids)),
            CaseHash.case_id != case_id,
            Case.status == ACTIVE,
        )
        .distinct()
    )
    return set(rows)


def append_changes(
    *, session: Session, hashes: Sequence[Hash], status: str, at: datetime.datetime
) -> None:
    """Set these hashes' status and append one feed change for each. Hold `lock_feed` first."""
    if not hashes:
        return
    rows = session.execute(
        _insert(session, FeedChange).returning(FeedChange.hash_id, FeedChange.cursor),
        [
            {
                "hash_id": h.id,
                "media": h.media,
                "algorithm": h.algorithm,
                "value": h.value,
                "status": status,
                "changed_at": at,
            }
            for h in hashes
        ],
    )
    cursors = {hash_id: cursor for hash_id, cursor in rows}
    for h in hashes:
        h.status, h.changed_at, h.cursor = status, at, cursors[h.id]
    session.flush()


def activate_hashes(*, session: Session, hash_ids: Iterable[int], at: datetime.datetime) -> None:
    """Make these hashes active, appending a feed change for each that was not. Hold
    `lock_feed` first. PostgreSQL: one statement."""
    if session.get_bind().dialect.name != "postgresql":
        hashes = fetch_hashes(session=session, hash_ids=hash_ids)
        append_changes(
            session=session, hashes=[h for h in hashes if h.status != ACTIVE], status=ACTIVE, at=at
        )
        return
    session.execute(
        text(
            "WITH changed AS ("
            " UPDATE takedown_hash SET status = :status, changed_at = :at,"
            "  cursor = nextval(pg_get_serial_sequence('takedown_feed_change', 'cursor'))"
            " WHERE id = ANY(:ids) AND status <> :status"
            " RETURNING id, media, algorithm, value, cursor)"
            " INSERT INTO takedown_feed_change"
            " (cursor, hash_id, media, algorithm, value, status, changed_at)"
            " SELECT cursor, id, media, algorithm, value, :status, :at FROM changed"
        ),
        {"status": ACTIVE, "at": at, "ids": list(hash_ids)},
    )


# The feed


def fetch_changes(
    *,
    session: Session,
    after: int,
    limit: int,
    signals: Sequence[tuple[str, str]] | None = None,
) -> Sequence[ChangeRow]:
    """Up to `limit` changes after cursor `after`, in cursor order, optionally of some signals."""
    query = select(
        FeedChange.cursor,
        FeedChange.hash_id,
        FeedChange.media,
        FeedChange.algorithm,
        FeedChange.value,
        FeedChange.status,
        FeedChange.changed_at,
    ).where(FeedChange.cursor > after)
    if signals:
        query = query.where(
            or_(*((FeedChange.media == m) & (FeedChange.algorithm == a) for m, a in signals))
        )
    return session.execute(query.order_by(FeedChange.cursor).limit(limit)).all()


def get_first_cursor_since(*, session: Session, since: datetime.datetime) -> int | None:
    """The lowest cursor of any change at or after `since`."""
    return session.scalar(select(func.min(FeedChange.cursor)).where(FeedChange.changed_at >= since))


def get_last_cursor(*, session: Session) -> int:
    """The highest cursor in the feed (0 when empty)."""
    return session.scalar(select(func.max(FeedChange.cursor))) or 0


def stream_active_hashes(
    *, session: Session, up_to: int, batch: int = 10_000
) -> Iterator[Sequence[HashRow]]:
    """Every hash whose latest change (at or below `up_to`) left it active, in batches."""
    last_id = 0
    while True:
        rows = session.execute(
            select(Hash.id, Hash.media, Hash.algorithm, Hash.value, Hash.changed_at)
            .where(Hash.id > last_id, Hash.status == ACTIVE, Hash.cursor <= up_to)
            .order_by(Hash.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def get_hash(*, session: Session, algorithm: str, value: str) -> Hash | None:
    """A hash by algorithm and value (either media)."""
    return session.scalars(
        select(Hash).where(Hash.algorithm == algorithm, Hash.value == value).order_by(Hash.id)
    ).first()


# Feedback


def add_feedback(
    *,
    session: Session,
    platform_id: int,
    hash_id: int,
    outcome: str,
    count: int,
    at: datetime.datetime,
) -> None:
    """Add to a platform's running count of an outcome on a hash."""
    statement = _insert(session, Feedback).values(
        platform_id=platform_id, hash_id=hash_id, outcome=outcome, count=count, updated_at=at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["platform_id", "hash_id", "outcome"],
            set_={"count": Feedback.count + count, "updated_at": at},
        )
    )


def fetch_platform_feedback(
    *, session: Session, platform_id: int, hash_ids: Iterable[int]
) -> Sequence[Row[int, str, int]]:
    """(hash_id, outcome, count) of one platform's own feedback on these hashes."""
    return session.execute(
        select(Feedback.hash_id, Feedback.outcome, Feedback.count).where(
            Feedback.platform_id == platform_id, Feedback.hash_id.in_(list(hash_ids))
        )
    ).all()


def fetch_feedback_totals(
    *, session: Session, hash_ids: Iterable[int]
) -> Sequence[Row[int, str, int, int]]:
    """(hash_id, outcome, platforms, count) summed over every platform."""
    return session.execute(
        select(
            Feedback.hash_id,
            Feedback.outcome,
            func.count(Feedback.platform_id),
            func.sum(Feedback.count),
        )
        .where(Feedback.hash_id.in_(list(hash_ids)))
        .group_by(Feedback.hash_id, Feedback.outcome)
    ).all()
