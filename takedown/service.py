"""Take It Down operations: submit, look up and withdraw cases; serve the feed; take feedback.

Routes, the CLI and benchmarks all call these functions. They take the session (and the
throttle, where PINs are checked) as arguments and raise `haven.errors` domain errors.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven import auth
from haven.db import this_hour, utcnow, write
from haven.errors import Conflict, InvalidInput, NotFound, Unauthorized
from haven.ratelimit import Throttle
from takedown import codes, store
from takedown.models import ACTIVE, WITHDRAWN, Case, Hash, Platform
from takedown.schemas import (
    CaseCreated,
    CaseHashOut,
    CaseIn,
    CaseStatusOut,
    Feedback,
    FeedbackIn,
)

PIN_SCOPE = "case-pin"


@dataclasses.dataclass(frozen=True)
class PinPolicy:
    """How many wrong PINs a case tolerates, and for how long it then locks."""

    throttle: Throttle
    allowed: int = 5
    minutes: int = 15


def submit_case(*, session: Session, case_in: CaseIn) -> CaseCreated:
    """Store a new case and put its hashes in the feed. Returns the number and the only copy
    of the PIN."""
    pin = codes.new_pin()
    pin_hash = codes.hash_pin(pin)  # slow on purpose: done before the transaction begins
    qualities: dict[store.HashKey, int | None] = {
        (h.media, h.algorithm, h.value): h.quality for h in case_in.hashes
    }
    keys = list(qualities)  # dict keys: duplicates within the case collapse here
    for _attempt in range(3):
        number = codes.new_case_number()
        try:
            with write(session):
                case = store.save_case(
                    session=session,
                    case=Case(
                        number=number, pin_hash=pin_hash, status=ACTIVE, created_at=this_hour()
                    ),
                )
                ids = store.ensure_hashes(session=session, keys=keys, qualities=qualities)
                store.link_case_hashes(session=session, case_id=case.id, hash_ids=ids.values())
                store.lock_feed(session=session)
                store.activate_hashes(session=session, hash_ids=ids.values(), at=this_hour())
        except IntegrityError:
            continue  # a case number collision (one in 10^11): draw another
        return CaseCreated(
            case_number=codes.display_case_number(number),
            pin=codes.display_pin(pin),
            hashes=len(keys),
        )
    raise RuntimeError("could not allocate a case number")


def _open_case(*, session: Session, number: str, pin: str, policy: PinPolicy) -> Case:
    """The case, if the PIN is right. Wrong number and wrong PIN look exactly alike."""
    normalised = codes.normalise(number)
    policy.throttle.check_lock(PIN_SCOPE, normalised, minutes=policy.minutes)
    case = None
    if codes.is_valid_case_number(normalised):
        case = store.get_case_by_number(session=session, number=normalised)
    # Verify even when there is no case, so timing does not tell which part was wrong.
    if case is None or not codes.verify_pin(case.pin_hash if case else None, pin):
        policy.throttle.record_failure(
            PIN_SCOPE, normalised, allowed=policy.allowed, minutes=policy.minutes
        )
        raise NotFound(
            "No case matches that case number and PIN. Check both and try again.",
            code="case_not_found",
        )
    policy.throttle.clear_failures(PIN_SCOPE, normalised)
    return case


def get_case_status(*, session: Session, number: str, pin: str, policy: PinPolicy) -> CaseStatusOut:
    """A case's status, hash by hash, with what platforms have done."""
    case = _open_case(session=session, number=number, pin=pin, policy=policy)
    return _case_status(session=session, case=case)


def withdraw_case(*, session: Session, number: str, pin: str, policy: PinPolicy) -> CaseStatusOut:
    """Withdraw a case: each hash no other active case holds becomes a tombstone in the feed."""
    case = _open_case(session=session, number=number, pin=pin, policy=policy)
    with write(session):
        session.refresh(case)
        if case.status == ACTIVE:
            case.status, case.withdrawn_at = WITHDRAWN, this_hour()
            session.flush()
            store.lock_feed(session=session)
            hashes = store.fetch_case_hashes(session=session, case_id=case.id)
            held = store.fetch_hash_ids_held_elsewhere(
                session=session, hash_ids=[h.id for h in hashes], case_id=case.id
            )
            store.append_changes(
                session=session,
                hashes=[h for h in hashes if h.status == ACTIVE and h.id not in held],
                status=WITHDRAWN,
                at=this_hour(),
            )
    return _case_status(session=session, case=case)


def _case_status(*, session: Session, case: Case) -> CaseStatusOut:
    hashes = store.fetch_case_hashes(session=session, case_id=case.id)
    cursors = store.fetch_platform_cursors(session=session)
    totals: dict[int, dict[str, Feedback]] = defaultdict(dict)
    for hash_id, outcome, platforms, count in store.fetch_feedback_totals(
        session=session, hash_ids=[h.id for h in hashes]
    ):
        totals[hash_id][outcome] = Feedback(platforms=platforms, count=count)
    return CaseStatusOut(
        case_number=codes.display_case_number(case.number),
        status=case.status,
        submitted=case.created_at,
        withdrawn=case.withdrawn_at,
        platforms=len(cursors),
        hashes=[
            CaseHashOut(
                media=h.media,
                algorithm=h.algorithm,
                value=h.value,
                status=h.status,
                platforms_fetched=sum(1 for c in cursors if c >= h.cursor),
                feedback=totals.get(h.id, {}),
            )
            for h in hashes
        ],
    )


# Platforms


@dataclasses.dataclass(frozen=True)
class PlatformCredentials:
    """A new platform's credentials, shown once."""

    name: str
    api_key: str
    stopncii_subscription_key: str
    stopncii_fetch_function_key: str


def add_platform(*, session: Session, name: str) -> PlatformCredentials:
    """Register a platform and return its credentials; only their hashes are stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("A platform name is 1 to 100 characters.")
    credentials = PlatformCredentials(
        name=name,
        api_key=auth.new_secret("hvp"),
        stopncii_subscription_key=auth.new_secret("hvs"),
        stopncii_fetch_function_key=auth.new_secret("hvf"),
    )
    with write(session):
        if store.get_platform_by_name(session=session, name=name) is not None:
            raise Conflict(f"A platform named {name!r} already exists.")
        store.save_platform(
            session=session,
            platform=Platform(
                name=name,
                api_key_hash=auth.hash_secret(credentials.api_key),
                stopncii_subscription_key_hash=auth.hash_secret(
                    credentials.stopncii_subscription_key
                ),
                stopncii_fetch_key_hash=auth.hash_secret(credentials.stopncii_fetch_function_key),
                created_at=utcnow(),
                fetched_cursor=0,
            ),
        )
    return credentials


def authenticate_platform(*, session: Session, credential: str, secret: str) -> Platform:
    """The unrevoked platform owning `secret` as its `credential`, or 401."""
    column = {
        "api_key": Platform.api_key_hash,
        "stopncii_subscription_key": Platform.stopncii_subscription_key_hash,
        "stopncii_fetch_function_key": Platform.stopncii_fetch_key_hash,
    }[credential]
    platform = store.get_active_platform(
        session=session, column=column, key_hash=auth.hash_secret(secret)
    )
    if platform is None:
        raise Unauthorized("That key is unknown or has been revoked.")
    return platform


def revoke_platform(*, session: Session, name: str) -> None:
    """Revoke a platform's credentials at once."""
    with write(session):
        platform = store.get_platform_by_name(session=session, name=name)
        if platform is None:
            raise NotFound(f"No platform is named {name!r}.")
        if platform.revoked_at is None:
            platform.revoked_at = utcnow()


# The feed


@dataclasses.dataclass(frozen=True)
class ChangeBatch:
    """Changes in cursor order, where to poll from next, and whether more are waiting."""

    rows: Sequence[store.ChangeRow]
    next: int
    has_more: bool


def fetch_changes(
    *,
    session: Session,
    platform: Platform,
    after: int,
    limit: int,
    signals: Sequence[tuple[str, str]] | None = None,
) -> ChangeBatch:
    """The changes after `after`, in order; records that the platform now has them."""
    rows = store.fetch_changes(session=session, after=after, limit=limit + 1, signals=signals)
    page = rows[:limit]
    batch = ChangeBatch(page, page[-1].cursor if page else after, len(rows) > limit)
    if page:
        with write(session):
            store.advance_platform_cursor(
                session=session, platform_id=platform.id, cursor=batch.next
            )
    return batch


def first_cursor_since(*, session: Session, since: datetime.datetime) -> int:
    """The cursor to poll after, to see every change from `since` on."""
    first = store.get_first_cursor_since(session=session, since=since)
    return first - 1 if first is not None else store.get_last_cursor(session=session)


def export_active(*, session: Session, platform: Platform) -> tuple[int, Iterator[store.HashRow]]:
    """A snapshot of every active hash, and the cursor to continue polling from.

    A hash that changes while the export runs is left out or kept by its state at the
    snapshot cursor; either way, polling from that cursor brings the platform up to date.
    """
    up_to = store.get_last_cursor(session=session)

    def rows() -> Iterator[store.HashRow]:
        for batch in store.stream_active_hashes(session=session, up_to=up_to):
            yield from batch
        with write(session):
            store.advance_platform_cursor(session=session, platform_id=platform.id, cursor=up_to)

    return up_to, rows()


def record_feedback(
    *, session: Session, platform: Platform, feedback: Sequence[FeedbackIn]
) -> None:
    """Add a platform's reports to its running counts, all or none. Unknown hashes are 404."""
    with write(session):
        for item in feedback:
            hash_row = find_hash(session=session, algorithm=item.algorithm, value=item.value)
            store.add_feedback(
                session=session,
                platform_id=platform.id,
                hash_id=hash_row.id,
                outcome=item.outcome,
                count=item.count,
                at=this_hour(),
            )


def own_feedback(
    *, session: Session, platform: Platform, hash_ids: Iterable[int]
) -> dict[int, dict[str, int]]:
    """A platform's own feedback on these hashes: {hash_id: {outcome: count}}."""
    mine: dict[int, dict[str, int]] = defaultdict(dict)
    for hash_id, outcome, count in store.fetch_platform_feedback(
        session=session, platform_id=platform.id, hash_ids=hash_ids
    ):
        mine[hash_id][outcome] = count
    return mine


def find_hash(*, session: Session, algorithm: str, value: str) -> Hash:
    """A hash in the feed, or 404."""
    hash_row = store.get_hash(session=session, algorithm=algorithm, value=value)
    if hash_row is None:
        raise NotFound(f"No {algorithm} hash {value} is in the feed.", code="hash_not_found")
    return hash_row
