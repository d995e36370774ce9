"""Every query and write of Take It Down. Nothing here commits; `haven.db.write` does."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, insert, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from haven.db import insert_for
from takedown.models import (
    ACTIVE,
    STOPNCII_SIGNALS,
    WITHDRAWN,
    Case,
    CaseHash,
    Feedback,
    FeedChange,
    FeedPending,
    Hash,
    HashFeatures,
    Platform,
)

HashKey = tuple[str, str, str]  # (media, algorithm, value)
NATIVE, STOPNCII = "native", "stopncii"  # the routes that serve the feed
# (cursor, hash_id, media, algorithm, value, status, changed_at)
ChangeRow = Row[int, int, str, str, str, str, datetime.datetime]
# (id, media, algorithm, value, changed_at)
HashRow = Row[int, str, str, str, datetime.datetime]
PENDING = "pending"  # a hash row inserted in this transaction, before its first change

# Any constant works; it only has to be the same for every writer of the feed.
_FEED_LOCK = 0x48415645


def lock_feed(*, session: Session) -> None:
    """Serialise writers of the feed until this transaction ends.

    Cursors must become visible in cursor order, or a poller could skip a change that commits
    after a higher cursor was already read. Writers take this lock just before they pick
    cursors, so commits happen in cursor order. SQLite already serialises writers. Cases do
    not take it: they queue their changes (`queue_for_feed`), and the sequencer, which holds
    it, gives them cursors (`sequence_pending`).
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


def get_active_platform(
    *, session: Session, column: Any, previous: Any, key_hash: str, now: datetime.datetime
) -> Platform | None:
    """The unrevoked platform whose credential `column` has hash `key_hash`, or whose
    `previous` credential has it and is still within its grace period."""
    current = column == key_hash
    in_grace = (previous == key_hash) & (Platform.previous_key_expires_at > now)
    return session.scalar(
        select(Platform).where(or_(current, in_grace), Platform.revoked_at.is_(None))
    )


def fetch_platforms(*, session: Session) -> list[Platform]:
    """Every platform, revoked or not, by name."""
    return list(session.scalars(select(Platform).order_by(Platform.name)))


def fetch_participating_public_names(*, session: Session) -> list[str | None]:
    """The public name (None: not listed) of each unrevoked real (not sandbox) platform."""
    return list(
        session.scalars(
            select(Platform.public_name).where(
                Platform.revoked_at.is_(None), Platform.sandbox.is_(False)
            )
        )
    )


def fetch_platform_cursors(*, session: Session) -> list[tuple[int, int]]:
    """(native cursor, StopNCII cursor) of each unrevoked real (not sandbox) platform."""
    rows = session.execute(
        select(Platform.fetched_cursor, Platform.stopncii_fetched_cursor).where(
            Platform.revoked_at.is_(None), Platform.sandbox.is_(False)
        )
    )
    return [(native, stopncii) for native, stopncii in rows]


def advance_platform_cursor(
    *, session: Session, platform_id: int, cursor: int, route: str = NATIVE
) -> None:
    """Record that `route` has served a platform every change it serves up to `cursor` (never
    moves back)."""
    column = Platform.fetched_cursor if route == NATIVE else Platform.stopncii_fetched_cursor
    session.execute(
        update(Platform).where(Platform.id == platform_id, column < cursor).values({column: cursor})
    )


def mark_platform_polled(
    *, session: Session, platform_id: int, route: str, at: datetime.datetime
) -> None:
    """Record when a platform last polled through `route`."""
    column = Platform.native_polled_at if route == NATIVE else Platform.stopncii_polled_at
    session.execute(update(Platform).where(Platform.id == platform_id).values({column: at}))


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


def get_case_pin_hash(*, session: Session, number: str) -> str | None:
    """The PIN hash of the case with that (normalised) number: one column, so finding a case
    costs about what finding none does (no object is built before the PIN is right)."""
    return session.scalar(select(Case.pin_hash).where(Case.number == number))


def ensure_hashes(
    *,
    session: Session,
    keys: Sequence[HashKey],
    qualities: dict[HashKey, int | None],
    features: dict[HashKey, str] | None = None,
    sandbox: bool = False,
) -> dict[HashKey, int]:
    """The ids of these (real or sandbox) hashes, inserting the ones never seen (race-free
    across writers), with the `features` (vpdq frames) of those that have them."""
    rows_in = [
        {
            "sandbox": sandbox,
            "media": m,
            "algorithm": a,
            "value": v,
            "quality": qualities.get((m, a, v)),
            "status": PENDING,
            "cursor": 0,
            "changed_at": _EPOCH,
        }
        for m, a, v in keys
    ]
    session.execute(
        insert_for(session, Hash.__table__).on_conflict_do_nothing(
            index_elements=["sandbox", "media", "algorithm", "value"]
        ),
        rows_in,
    )
    rows = session.execute(
        select(Hash.media, Hash.algorithm, Hash.value, Hash.id).where(
            Hash.sandbox.is_(sandbox),
            tuple_(Hash.media, Hash.algorithm, Hash.value).in_(list(keys)),
        )
    )
    ids = {(m, a, v): hash_id for m, a, v, hash_id in rows}
    if features:
        _save_features(session, {ids[key]: frames for key, frames in features.items()})
    return ids


# A new case, its hashes (inserted when never seen), its links and its place in the feed's
# queue, in one PostgreSQL statement. `found` is the hashes this statement inserted and those
# its snapshot already held; a hash another transaction inserts concurrently is in neither
# (its insert waits for that commit, then does nothing): `save_new_case` finds those after.
_SAVE_NEW_CASE = text(
    "WITH new_case AS ("
    " INSERT INTO takedown_case (number, pin_hash, status, created_at)"
    " VALUES (:number, :pin_hash, :status, :created_at) RETURNING id),"
    " wanted AS ("
    " SELECT * FROM unnest(CAST(:media AS text[]), CAST(:algorithm AS text[]),"
    "  CAST(:value AS text[]), CAST(:quality AS integer[]))"
    "  AS t(media, algorithm, value, quality)),"
    " inserted AS ("
    " INSERT INTO takedown_hash (sandbox, media, algorithm, value, quality, status, cursor,"
    "  changed_at)"
    " SELECT false, media, algorithm, value, quality, :pending, 0, :epoch FROM wanted"
    " ON CONFLICT (sandbox, media, algorithm, value) DO NOTHING"
    " RETURNING id, media, algorithm, value),"
    " found AS ("
    " SELECT id, media, algorithm, value FROM inserted UNION ALL"
    " SELECT h.id, h.media, h.algorithm, h.value FROM takedown_hash h JOIN wanted w"
    "  ON h.sandbox = false AND h.media = w.media AND h.algorithm = w.algorithm"
    "  AND h.value = w.value),"
    " linked AS ("
    " INSERT INTO takedown_case_hash (case_id, hash_id)"
    " SELECT new_case.id, found.id FROM new_case, found),"
    " queued AS (INSERT INTO takedown_feed_pending (case_id) SELECT id FROM new_case)"
    " SELECT new_case.id, found.media, found.algorithm, found.value, found.id"
    " FROM new_case LEFT JOIN found ON true"
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def save_new_case(
    *,
    session: Session,
    case: Case,
    keys: Sequence[HashKey],
    qualities: dict[HashKey, int | None],
    features: dict[HashKey, str],
) -> None:
    """Store a new case holding these (distinct) real hashes, inserting the ones never seen,
    with the `features` of those that have them, and queue it for the feed
    (`queue_for_feed`). PostgreSQL: one statement, unless another case inserted one of its
    hashes at the same moment."""
    if session.get_bind().dialect.name != "postgresql":
        save_case(session=session, case=case)
        ids = ensure_hashes(session=session, keys=keys, qualities=qualities, features=features)
        link_case_hashes(session=session, case_id=case.id, hash_ids=ids.values())
        queue_for_feed(session=session, case_id=case.id)
        return
    rows = session.execute(
        _SAVE_NEW_CASE,
        {
            "number": case.number,
            "pin_hash": case.pin_hash,
            "status": case.status,
            "created_at": case.created_at,
            "media": [m for m, _, _ in keys],
            "algorithm": [a for _, a, _ in keys],
            "value": [v for _, _, v in keys],
            "quality": [qualities.get(k) for k in keys],
            "pending": PENDING,
            "epoch": _EPOCH,
        },
    ).all()
    case.id = rows[0][0]
    ids = {(m, a, v): hash_id for _, m, a, v, hash_id in rows if hash_id is not None}
    missing = [k for k in keys if k not in ids]
    if missing:  # inserted by a concurrent case after this statement's snapshot
        found = ensure_hashes(session=session, keys=missing, qualities=qualities)
        link_case_hashes(session=session, case_id=case.id, hash_ids=found.values())
        ids.update(found)
    if features:
        _save_features(session, {ids[key]: frames for key, frames in features.items()})


def _save_features(session: Session, features: dict[int, str]) -> None:
    """Store the features of the hashes that have none yet: once per hash, when its row was
    just created (a hash's value digests its features, so they never change)."""
    stored = set(
        session.scalars(
            select(HashFeatures.hash_id).where(HashFeatures.hash_id.in_(list(features)))
        )
    )
    missing = [
        {"hash_id": hash_id, "features": frames}
        for hash_id, frames in features.items()
        if hash_id not in stored
    ]
    if missing:
        # A concurrent case with the same hash may have stored them since: nothing to do then.
        session.execute(
            insert_for(session, HashFeatures.__table__).on_conflict_do_nothing(
                index_elements=["hash_id"]
            ),
            missing,
        )


def fetch_hash_features(*, session: Session, hash_ids: Iterable[int]) -> dict[int, str]:
    """{hash_id: features} of those of these hashes that have features (vpdq)."""
    rows = session.execute(
        select(HashFeatures.hash_id, HashFeatures.features).where(
            HashFeatures.hash_id.in_(list(hash_ids))
        )
    )
    return {hash_id: features for hash_id, features in rows}


def link_case_hashes(*, session: Session, case_id: int, hash_ids: Iterable[int]) -> None:
    """Record that a case holds these hashes."""
    session.execute(
        insert_for(session, CaseHash.__table__).on_conflict_do_nothing(),
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


def append_changes(
    *, session: Session, hashes: Sequence[Hash], status: str, at: datetime.datetime
) -> None:
    """Set these hashes' status and append one feed change for each. Hold `lock_feed` first."""
    if not hashes:
        return
    rows = session.execute(
        insert_for(session, FeedChange).returning(FeedChange.hash_id, FeedChange.cursor),
        [
            {
                "hash_id": h.id,
                "sandbox": h.sandbox,
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
            " RETURNING id, sandbox, media, algorithm, value, cursor)"
            " INSERT INTO takedown_feed_change"
            " (cursor, hash_id, sandbox, media, algorithm, value, status, changed_at)"
            " SELECT cursor, id, sandbox, media, algorithm, value, :status, :at FROM changed"
        ),
        {"status": ACTIVE, "at": at, "ids": list(hash_ids)},
    )


def claim_feed_for(*, session: Session, case_id: int) -> bool | None:
    """Whether to run the sequencer for a queued case: None when the case is queued no more
    (a run has taken it and committed), True when this transaction now holds the feed lock,
    False when another transaction holds it (ask again once it may have ended). Never queues
    for the lock, so a case a running batch takes costs its request no turn under it."""
    if session.get_bind().dialect.name != "postgresql":  # the write lock is held already
        queued = session.scalar(select(FeedPending.id).where(FeedPending.case_id == case_id))
        return True if queued is not None else None
    # CASE evaluates its branch only when the case is still queued.
    claimed: bool | None = session.scalar(
        text(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM takedown_feed_pending"
            " WHERE case_id = :case_id) THEN pg_try_advisory_xact_lock(:key) END"
        ),
        {"case_id": case_id, "key": _FEED_LOCK},
    )
    return claimed


def queue_for_feed(*, session: Session, case_id: int) -> None:
    """Queue a case just submitted or withdrawn: the sequencer will bring the feed in line
    with it after this transaction commits."""
    session.execute(insert(cast(Table, FeedPending.__table__)).values(case_id=case_id))


# One statement on PostgreSQL. `todo` takes the oldest queued cases; `wanted` is what each of
# their hashes should now be (active while any active case holds it); a hash changes when it
# is held but not active (new, or withdrawn before), or active but held no more (a hash never
# published stays unpublished). Cursors are drawn in queue order, and the hash row records its
# latest change, as activate_hashes does.
_SEQUENCE_PENDING = text(
    "WITH todo AS ("
    " DELETE FROM takedown_feed_pending WHERE id IN"
    "  (SELECT id FROM takedown_feed_pending ORDER BY id LIMIT :limit)"
    " RETURNING id, case_id),"
    " touched AS ("
    " SELECT ch.hash_id, min(todo.id) AS first FROM todo"
    " JOIN takedown_case_hash ch ON ch.case_id = todo.case_id GROUP BY ch.hash_id),"
    " wanted AS ("
    " SELECT h.id, h.sandbox, h.media, h.algorithm, h.value, t.first, h.status AS was,"
    "  CASE WHEN EXISTS (SELECT 1 FROM takedown_case_hash x"
    "   JOIN takedown_case c ON c.id = x.case_id"
    "   WHERE x.hash_id = h.id AND c.status = :active)"
    "  THEN :active ELSE :withdrawn END AS status"
    " FROM touched t JOIN takedown_hash h ON h.id = t.hash_id),"
    " numbered AS ("
    " SELECT w.id, w.sandbox, w.media, w.algorithm, w.value, w.status,"
    "  nextval(pg_get_serial_sequence('takedown_feed_change', 'cursor')) AS cursor"
    " FROM (SELECT * FROM wanted WHERE (status = :active) <> (was = :active)"
    "  ORDER BY first, id) AS w),"
    " changed AS ("
    " UPDATE takedown_hash h SET status = n.status, cursor = n.cursor, changed_at = :at"
    " FROM numbered n WHERE h.id = n.id),"
    " appended AS ("
    " INSERT INTO takedown_feed_change"
    " (cursor, hash_id, sandbox, media, algorithm, value, status, changed_at)"
    " SELECT cursor, id, sandbox, media, algorithm, value, status, :at FROM numbered"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM todo), (SELECT count(*) FROM appended)"
)


def sequence_pending(*, session: Session, at: datetime.datetime, limit: int) -> tuple[int, int]:
    """Take up to `limit` queued cases, oldest first, and append the feed change each of their
    hashes now needs, with cursors in queue order. Returns (cases taken, changes appended).
    Hold `lock_feed` first: then every case committed before it was taken is seen, and these
    cursors commit after every lower one."""
    if session.get_bind().dialect.name == "postgresql":
        taken, appended = session.execute(
            _SEQUENCE_PENDING,
            {"limit": limit, "at": at, "active": ACTIVE, "withdrawn": WITHDRAWN},
        ).one()
        return int(taken), int(appended)
    # SQLite: this transaction began with the write lock (BEGIN IMMEDIATE), so it sees every
    # commit and none can come in between.
    queued = session.execute(
        select(FeedPending.id, FeedPending.case_id).order_by(FeedPending.id).limit(limit)
    ).all()
    if not queued:
        return 0, 0
    first: dict[int, int] = {}
    for pending_id, case_id in queued:
        first.setdefault(case_id, pending_id)
    session.execute(delete(FeedPending).where(FeedPending.id <= queued[-1][0]))
    touched: dict[int, int] = {}
    for hash_id, case_id in session.execute(
        select(CaseHash.hash_id, CaseHash.case_id).where(CaseHash.case_id.in_(list(first)))
    ):
        touched[hash_id] = min(touched.get(hash_id, first[case_id]), first[case_id])
    held = set(
        session.scalars(
            select(CaseHash.hash_id)
            .join(Case, Case.id == CaseHash.case_id)
            .where(CaseHash.hash_id.in_(list(touched)), Case.status == ACTIVE)
        )
    )
    hashes = sorted(
        fetch_hashes(session=session, hash_ids=touched), key=lambda h: (touched[h.id], h.id)
    )
    changes = [h for h in hashes if (h.id in held) != (h.status == ACTIVE)]
    # Cursors follow the queue: one statement per run of changes to the same status.
    for status, run in itertools.groupby(
        changes, key=lambda h: ACTIVE if h.id in held else WITHDRAWN
    ):
        append_changes(session=session, hashes=list(run), status=status, at=at)
    return len(queued), len(changes)


def count_pending(*, session: Session) -> int:
    """How many cases wait for the sequencer."""
    return session.scalar(select(func.count()).select_from(FeedPending)) or 0


# The feed


def fetch_changes(
    *,
    session: Session,
    after: int,
    limit: int,
    sandbox: bool,
    signals: Sequence[tuple[str, str]] | None = None,
) -> Sequence[ChangeRow]:
    """Up to `limit` changes of the real or the sandbox feed after cursor `after`, in cursor
    order, optionally of some signals."""
    query = select(
        FeedChange.cursor,
        FeedChange.hash_id,
        FeedChange.media,
        FeedChange.algorithm,
        FeedChange.value,
        FeedChange.status,
        FeedChange.changed_at,
    ).where(FeedChange.cursor > after, FeedChange.sandbox.is_(sandbox))
    if signals:
        query = query.where(
            or_(*((FeedChange.media == m) & (FeedChange.algorithm == a) for m, a in signals))
        )
    return session.execute(query.order_by(FeedChange.cursor).limit(limit)).all()


def get_first_cursor_since(*, session: Session, since: datetime.datetime) -> int | None:
    """The lowest cursor of any change at or after `since`."""
    return session.scalar(select(func.min(FeedChange.cursor)).where(FeedChange.changed_at >= since))


def get_last_cursor(*, session: Session, sandbox: bool | None = None) -> int:
    """The highest cursor in the feed (0 when empty); of the real or the sandbox feed alone
    when `sandbox` is given, so neither kind of platform learns of the other's changes."""
    query = select(func.max(FeedChange.cursor))
    if sandbox is not None:
        query = query.where(FeedChange.sandbox.is_(sandbox))
    return session.scalar(query) or 0


def count_feed_lag(*, session: Session) -> list[tuple[str, int]]:
    """(platform name, feed changes it has not fetched yet) of each unrevoked platform."""
    rows = session.execute(
        select(Platform).where(Platform.revoked_at.is_(None)).order_by(Platform.name)
    ).scalars()
    return [(p.name, get_platform_lag(session=session, platform=p)[0]) for p in rows]


def get_platform_lag(
    *, session: Session, platform: Platform
) -> tuple[int, datetime.datetime | None]:
    """How many changes of its feed a platform has not fetched yet, and when the oldest of
    them happened. A platform polling only through StopNCII is measured on that route's
    cursor and signals; any other on its native cursor."""
    only_stopncii = platform.stopncii_polled_at is not None and platform.native_polled_at is None
    after = platform.stopncii_fetched_cursor if only_stopncii else platform.fetched_cursor
    query = select(func.count(), func.min(FeedChange.changed_at)).where(
        FeedChange.cursor > after, FeedChange.sandbox.is_(platform.sandbox)
    )
    if only_stopncii:
        query = query.where(
            or_(
                *(
                    (FeedChange.media == m) & (FeedChange.algorithm == a)
                    for m, a in STOPNCII_SIGNALS
                )
            )
        )
    count, oldest = session.execute(query).one()
    return int(count), oldest


def stream_active_hashes(
    *, session: Session, up_to: int, sandbox: bool, batch: int = 10_000
) -> Iterator[Sequence[HashRow]]:
    """Every real (or sandbox) hash whose latest change (at or below `up_to`) left it active,
    in batches."""
    last_id = 0
    while True:
        rows = session.execute(
            select(Hash.id, Hash.media, Hash.algorithm, Hash.value, Hash.changed_at)
            .where(
                Hash.id > last_id,
                Hash.status == ACTIVE,
                Hash.cursor <= up_to,
                Hash.sandbox.is_(sandbox),
            )
            .order_by(Hash.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def get_hash(*, session: Session, algorithm: str, value: str, sandbox: bool) -> Hash | None:
    """A real (or sandbox) hash by algorithm and value (either media)."""
    return session.scalars(
        select(Hash)
        .where(Hash.algorithm == algorithm, Hash.value == value, Hash.sandbox.is_(sandbox))
        .order_by(Hash.id)
    ).first()


# Feedback


def save_feedback(
    *,
    session: Session,
    platform_id: int,
    hash_id: int,
    outcome: str,
    count: int,
    at: datetime.datetime,
) -> None:
    """Set a platform's report on a hash: the latest outcome (and its count) replaces any
    earlier one, whichever API carried either."""
    statement = insert_for(session, Feedback).values(
        platform_id=platform_id, hash_id=hash_id, outcome=outcome, count=count, updated_at=at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["platform_id", "hash_id"],
            set_={"outcome": outcome, "count": count, "updated_at": at},
        )
    )


def count_feedback_by_platform(*, session: Session) -> dict[int, dict[str, int]]:
    """{platform_id: {outcome: hashes}}: how many hashes each platform last reported so."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(Feedback.platform_id, Feedback.outcome, func.count()).group_by(
            Feedback.platform_id, Feedback.outcome
        )
    )
    for platform_id, outcome, n in rows:
        counts.setdefault(platform_id, {})[outcome] = n
    return counts


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
