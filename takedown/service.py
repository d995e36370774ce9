"""Take It Down operations: submit, look up and withdraw cases; serve the feed; take feedback.

Routes, the CLI and benchmarks all call these functions. They take the session (and the
throttle, where PINs are checked) as arguments and raise `haven.errors` domain errors.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from haven import auth
from haven.db import get_database_identity, this_hour, utcnow, write
from haven.errors import Conflict, Forbidden, HavenError, InvalidInput, NotFound, Unauthorized
from haven.metrics import count_feed_poll
from haven.ratelimit import Backoff, Throttle
from takedown import codes, store, vpdq
from takedown.models import ACTIVE, STOPNCII_SIGNALS, VPDQ, WITHDRAWN, Case, Hash, Platform
from takedown.schemas import (
    CaseCreated,
    CaseHashOut,
    CaseIn,
    CaseStatusOut,
    Feedback,
    FeedbackIn,
    HashIn,
)

if TYPE_CHECKING:
    from takedown.sandbox import SyntheticHashes

PIN_SCOPE = "case-pin"
# The most vpdq frames (bytes of features) one feed page carries: a page of 10,000 one-hour
# videos would be 3 GB. A page that reaches it ends early, with has_more.
FEED_PAGE_FEATURES_BYTES = 16 * 1024 * 1024
# vpdq hashes whose features are read from the database at once (an hour's are ~300 kB).
_FEATURES_AT_ONCE = 16
# Queued cases the sequencer takes in one transaction (a crash may leave many queued).
SEQUENCE_BATCH = 1000
# How long a request waits before looking again while another sequencer run holds the lock.
_SEQUENCER_RETRY_SECONDS = 0.002

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PinPolicy:
    """How wrong PINs are slowed (never locked out): per case and client, and per client
    over every case. `client` is the client as throttles count it; only its keyed hash is
    kept."""

    throttle: Throttle
    client: str
    per_case: Backoff
    per_client: Backoff


class CaseNumberMistyped(HavenError):
    """The case number's check character does not match: a typo, caught before any lookup."""

    status = 400
    code = "case_number_mistyped"


def submit_case(*, session: Session, case_in: CaseIn) -> CaseCreated:
    """Store a new case and put its hashes in the feed. Returns the number and the only copy
    of the PIN.

    The case commits without feed cursors (queued for the feed, under no lock), then
    `sequence_feed` gives its changes their cursors: the feed lock is held only for that short
    step, shared by every case committed meanwhile."""
    pin = codes.new_pin()
    pin_hash = codes.hash_pin(pin)  # slow on purpose: done before the transaction begins
    qualities: dict[store.HashKey, int | None] = {}
    features: dict[store.HashKey, str] = {}
    for h in case_in.hashes:
        key = _stored_key(h)
        qualities[key] = h.quality
        if h.algorithm == VPDQ:
            features[key] = h.value
    keys = list(qualities)  # dict keys: duplicates within the case collapse here
    for _attempt in range(3):
        number = codes.new_case_number()
        try:
            case = Case(number=number, pin_hash=pin_hash, status=ACTIVE, created_at=this_hour())
            with write(session):
                store.save_new_case(
                    session=session,
                    case=case,
                    keys=keys,
                    qualities=qualities,
                    features=features,
                )
        except IntegrityError:
            continue  # a case number collision (one in 10^11): draw another
        _sequence_after_commit(session, case.id)
        return CaseCreated(
            case_number=codes.display_case_number(number),
            pin=codes.display_pin(pin),
            hashes=len(keys),
        )
    raise RuntimeError("could not allocate a case number")


def _stored_key(h: HashIn) -> store.HashKey:
    """How a submitted hash is stored: a vpdq hash by the digest of its (canonical) frames,
    any other by its hex value."""
    value = vpdq.digest(h.value) if h.algorithm == VPDQ else h.value
    return (h.media, h.algorithm, value)


def _open_case(*, session: Session, number: str, pin: str, policy: PinPolicy) -> Case:
    """The case, if the PIN is right. A case number whose check character fails is refused
    first (400 `case_number_mistyped`: no lookup, no guess counted). Otherwise a wrong number
    and a wrong PIN look exactly alike, in the answer and in the time it takes: the PIN is
    verified either way (against a dummy hash when there is no case). Each guess is admitted
    by the throttle before it is judged (429 `wait_to_retry` while earlier wrong ones must
    be waited out), so concurrent guesses get no more judged than sequential ones."""
    normalised = codes.normalise(number)
    if not codes.is_valid_case_number(normalised):
        raise CaseNumberMistyped(
            "This case number is mistyped: its last character does not match the others. "
            "Check it against the one you were given."
        )
    guess = policy.throttle.admit_guess(
        PIN_SCOPE,
        [
            (f"case:{normalised}:client:{policy.client}", policy.per_case, True),
            (f"client:{policy.client}", policy.per_client, False),
        ],
    )
    found = store.get_case_pin_hash(session=session, number=normalised)
    # Evaluated unconditionally: `found is None or not verify(...)` would skip the slow hash
    # for unknown numbers, and the time saved would tell that the number does not exist.
    matched = codes.verify_pin(found, pin)
    case = None
    if found is not None and matched:  # only now is the whole case loaded
        case = store.get_case_by_number(session=session, number=normalised)
    policy.throttle.settle_guess(guess, right=case is not None)
    if case is None:
        raise NotFound(
            "No case matches that case number and PIN. Check both and try again.",
            code="case_not_found",
        )
    return case


def get_case_status(*, session: Session, number: str, pin: str, policy: PinPolicy) -> CaseStatusOut:
    """A case's status, hash by hash, with what platforms have done."""
    case = _open_case(session=session, number=number, pin=pin, policy=policy)
    return _case_status(session=session, case=case)


def withdraw_case(*, session: Session, number: str, pin: str, policy: PinPolicy) -> CaseStatusOut:
    """Withdraw a case: each hash no other active case holds becomes a tombstone in the feed
    (through the same queue and sequencer as submissions)."""
    case = _open_case(session=session, number=number, pin=pin, policy=policy)
    with write(session):
        session.refresh(case)
        withdrawing = case.status == ACTIVE
        if withdrawing:
            case.status, case.withdrawn_at = WITHDRAWN, this_hour()
            session.flush()
            store.queue_for_feed(session=session, case_id=case.id)
    if withdrawing:
        _sequence_after_commit(session, case.id)
    return _case_status(session=session, case=case)


def sequence_feed(*, session: Session) -> int:
    """Give the changes of every queued case (submitted or withdrawn) their feed cursors, in
    the order the cases were queued; returns how many changes were appended.

    Each batch runs under the feed lock, in a transaction of its own: it sees every case
    committed before it took the lock, and its cursors commit before any later batch draws
    higher ones, so a poller never skips a change nor sees one twice. A case whose transaction
    commits while a batch runs is taken by the next one. A change with no cursor yet is not in
    the feed at all. Runs right after each submission and withdrawal commits, and in the
    worker (takedown.tasks) for anything a crash left queued.
    """
    appended = 0
    while True:
        with write(session):
            store.lock_feed(session=session)
            taken, changes = store.sequence_pending(
                session=session, at=this_hour(), limit=SEQUENCE_BATCH
            )
        appended += changes
        if taken < SEQUENCE_BATCH:
            return appended


def _sequence_after_commit(session: Session, case_id: int) -> None:
    """See the case just committed through the sequencer: run it, unless a run already took
    the case; while another run holds the feed lock, look again shortly. Requests never queue
    for the lock, so under load one run serves many cases and the others hold no lock at all.

    A database error here loses nothing, so it is logged, not raised: the case is stored and
    queued, and the next sequencer run (another case's, or the worker's) gives it cursors."""
    try:
        while True:
            taken = 0
            with write(session):
                claimed = store.claim_feed_for(session=session, case_id=case_id)
                if claimed:
                    taken, _changes = store.sequence_pending(
                        session=session, at=this_hour(), limit=SEQUENCE_BATCH
                    )
            if claimed is None or (claimed and taken < SEQUENCE_BATCH):
                return  # taken by a run that committed (this one, or another)
            if not claimed:
                # Waiting in the lock's queue would hold it, in turn, for nothing once the
                # running batch has taken this case; looking again shortly holds nothing.
                time.sleep(_SEQUENCER_RETRY_SECONDS)
    except SQLAlchemyError:
        log.warning("the feed sequencer failed; queued cases wait for its next run", exc_info=True)


def _case_status(*, session: Session, case: Case) -> CaseStatusOut:
    # A hash still queued for its first cursor reads as its case does; no platform has it.
    hashes = store.fetch_case_hashes(session=session, case_id=case.id)
    cursors = store.fetch_platform_cursors(session=session)
    vpdq_ids = [h.id for h in hashes if h.algorithm == VPDQ]
    features = store.fetch_hash_features(session=session, hash_ids=vpdq_ids) if vpdq_ids else {}
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
                features=features.get(h.id),
                status=case.status if h.status == store.PENDING else h.status,
                platforms_fetched=sum(
                    1 for native, stopncii in cursors if _fetched(h, native, stopncii)
                ),
                feedback=totals.get(h.id, {}),
            )
            for h in hashes
        ],
    )


def _fetched(h: Hash, native: int, stopncii: int) -> bool:
    """Whether a platform with these route cursors was served `h`'s latest change: the native
    route serves every algorithm, the StopNCII route only the StopNCII signals."""
    if h.status == store.PENDING:  # no cursor yet: not in the feed
        return False
    if native >= h.cursor:
        return True
    return (h.media, h.algorithm) in STOPNCII_SIGNALS and stopncii >= h.cursor


# Platforms


@dataclasses.dataclass(frozen=True)
class PlatformCredentials:
    """A platform's credentials, shown once (when added or rotated)."""

    name: str
    api_key: str
    stopncii_subscription_key: str
    stopncii_fetch_function_key: str
    sandbox: bool = False
    previous_keys_expire: datetime.datetime | None = None


def _new_credentials(name: str, *, sandbox: bool) -> PlatformCredentials:
    # Sandbox keys carry their own prefixes, so a sandbox key is recognisable at a glance.
    prefix = "sb" if sandbox else ""
    return PlatformCredentials(
        name=name,
        api_key=auth.new_secret(f"{prefix}hvp"),
        stopncii_subscription_key=auth.new_secret(f"{prefix}hvs"),
        stopncii_fetch_function_key=auth.new_secret(f"{prefix}hvf"),
        sandbox=sandbox,
    )


def _public_name(public_name: str | None) -> str | None:
    """The name the families' page lists a platform under (spaces tidied), or None."""
    if public_name is None:
        return None
    public_name = " ".join(public_name.split())
    if not public_name or len(public_name) > 100:
        raise InvalidInput("A public name is 1 to 100 characters.")
    return public_name


def add_platform(
    *, session: Session, name: str, sandbox: bool = False, public_name: str | None = None
) -> PlatformCredentials:
    """Register a platform (a sandbox one sees only synthetic hashes) and return its
    credentials; only their hashes are stored. With a public name (never for a sandbox one)
    the families' page lists it."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("A platform name is 1 to 100 characters.")
    public_name = _public_name(public_name)
    if sandbox and public_name is not None:
        raise InvalidInput("A sandbox platform takes no part, so it gets no public name.")
    credentials = _new_credentials(name, sandbox=sandbox)
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
                stopncii_fetched_cursor=0,
                sandbox=sandbox,
                public_name=public_name,
            ),
        )
    return credentials


def rotate_platform(
    *, session: Session, name: str, grace: datetime.timedelta, now: datetime.datetime | None = None
) -> PlatformCredentials:
    """Give a platform new credentials (native and StopNCII alike). The current ones keep
    working for `grace`; credentials of an earlier rotation stop at once."""
    now = now or utcnow()
    with write(session):
        platform = store.get_platform_by_name(session=session, name=name)
        if platform is None:
            raise NotFound(f"No platform is named {name!r}.")
        if platform.revoked_at is not None:
            raise Conflict(f"{name!r} is revoked; add it again under a new name instead.")
        credentials = dataclasses.replace(
            _new_credentials(platform.name, sandbox=platform.sandbox),
            previous_keys_expire=now + grace,
        )
        platform.previous_api_key_hash = platform.api_key_hash
        platform.previous_stopncii_subscription_key_hash = platform.stopncii_subscription_key_hash
        platform.previous_stopncii_fetch_key_hash = platform.stopncii_fetch_key_hash
        platform.previous_key_expires_at = now + grace
        platform.api_key_hash = auth.hash_secret(credentials.api_key)
        platform.stopncii_subscription_key_hash = auth.hash_secret(
            credentials.stopncii_subscription_key
        )
        platform.stopncii_fetch_key_hash = auth.hash_secret(credentials.stopncii_fetch_function_key)
    return credentials


_CREDENTIAL_COLUMNS = {
    "api_key": (Platform.api_key_hash, Platform.previous_api_key_hash),
    "stopncii_subscription_key": (
        Platform.stopncii_subscription_key_hash,
        Platform.previous_stopncii_subscription_key_hash,
    ),
    "stopncii_fetch_function_key": (
        Platform.stopncii_fetch_key_hash,
        Platform.previous_stopncii_fetch_key_hash,
    ),
}


def authenticate_platform(
    *, session: Session, credential: str, secret: str, sandbox: bool
) -> Platform:
    """The unrevoked platform owning `secret` as its `credential` (current, or previous within
    its grace period), or 401; 403 when a sandbox key calls a real route or the reverse."""
    column, previous = _CREDENTIAL_COLUMNS[credential]
    platform = store.get_active_platform(
        session=session,
        column=column,
        previous=previous,
        key_hash=auth.hash_secret(secret),
        now=utcnow(),
    )
    if platform is None:
        raise Unauthorized("That key is unknown, has been revoked, or was rotated out.")
    if platform.sandbox and not sandbox:
        raise Forbidden(
            "This is a sandbox key: it reads only the sandbox feeds "
            "(/api/v1/sandbox/feed, /stopncii/sandbox/v1).",
            code="sandbox_key",
        )
    if sandbox and not platform.sandbox:
        raise Forbidden(
            "This is a real platform's key: the sandbox feeds take sandbox keys only "
            "(haven platform add NAME --sandbox).",
            code="not_a_sandbox_key",
        )
    return platform


def revoke_platform(*, session: Session, name: str) -> None:
    """Revoke a platform's credentials at once."""
    with write(session):
        platform = store.get_platform_by_name(session=session, name=name)
        if platform is None:
            raise NotFound(f"No platform is named {name!r}.")
        if platform.revoked_at is None:
            platform.revoked_at = utcnow()


def set_platform_public_name(*, session: Session, name: str, public_name: str | None) -> None:
    """List a platform on the families' page under `public_name`, or (None) take it off."""
    public_name = _public_name(public_name)
    with write(session):
        platform = store.get_platform_by_name(session=session, name=name)
        if platform is None:
            raise NotFound(f"No platform is named {name!r}.")
        if public_name is not None and platform.revoked_at is not None:
            raise Conflict(f"{name!r} is revoked, so it is not listed.")
        if public_name is not None and platform.sandbox:
            raise InvalidInput(f"{name!r} is a sandbox platform, so it is not listed.")
        platform.public_name = public_name


@dataclasses.dataclass(frozen=True)
class ParticipatingPlatforms:
    """What the families' page says about the platforms that take part."""

    named: list[str]  # the public names, sorted
    unnamed: int  # platforms that take part without being listed


def list_participating_platforms(*, session: Session) -> ParticipatingPlatforms:
    """The real, unrevoked platforms: the public names of those listed, and how many are not."""
    names = store.fetch_participating_public_names(session=session)
    named = sorted({n for n in names if n is not None}, key=str.casefold)
    return ParticipatingPlatforms(named=named, unnamed=sum(1 for n in names if n is None))


@dataclasses.dataclass(frozen=True)
class PlatformSummary:
    """What an operator sees of one platform in `haven platform list`."""

    name: str
    sandbox: bool
    revoked: bool
    last_poll: datetime.datetime | None
    protocol: str  # native, stopncii, both or none: the routes it has polled
    lag_changes: int  # changes of its feed it has not fetched yet
    lag_oldest: datetime.datetime | None  # when the oldest of those happened
    previous_keys_expire: datetime.datetime | None
    feedback: dict[str, int]  # outcome: hashes it last reported so
    public_name: str | None = None  # the name the families' page lists it under


def list_platforms(*, session: Session) -> list[PlatformSummary]:
    """Every platform with its last poll, protocol, cursor lag and feedback counts."""
    feedback = store.count_feedback_by_platform(session=session)
    summaries = []
    now = utcnow()
    for p in store.fetch_platforms(session=session):
        polls = [t for t in (p.native_polled_at, p.stopncii_polled_at) if t is not None]
        used = [
            name
            for name, at in (
                (store.NATIVE, p.native_polled_at),
                (store.STOPNCII, p.stopncii_polled_at),
            )
            if at is not None
        ]
        protocol = "both" if len(used) == 2 else (used[0] if used else "none")
        lag, oldest = store.get_platform_lag(session=session, platform=p)
        expires = p.previous_key_expires_at
        summaries.append(
            PlatformSummary(
                name=p.name,
                sandbox=p.sandbox,
                revoked=p.revoked_at is not None,
                last_poll=max(polls) if polls else None,
                protocol=protocol,
                lag_changes=lag,
                lag_oldest=oldest,
                previous_keys_expire=expires if expires is not None and expires > now else None,
                feedback=feedback.get(p.id, {}),
                public_name=p.public_name,
            )
        )
    return summaries


def add_sandbox_hashes(*, session: Session, count: int) -> SyntheticHashes:
    """Put `count` synthetic images (PDQ and MD5 each) and `count` synthetic videos (MD5) in
    the sandbox feed. They are never in the real feed, and real hashes never in theirs."""
    if not 1 <= count <= 10_000:
        raise InvalidInput("Generate 1 to 10,000 sandbox items at a time.")
    from takedown import sandbox  # numpy: loaded only by the operator command

    made = sandbox.generate(count)
    with write(session):
        ids: list[int] = []
        for start in range(0, len(made.keys), 1000):  # bounded statements on every database
            chunk = made.keys[start : start + 1000]
            found = store.ensure_hashes(
                session=session, keys=chunk, qualities=made.qualities, sandbox=True
            )
            ids.extend(found.values())
        store.lock_feed(session=session)
        store.activate_hashes(session=session, hash_ids=ids, at=this_hour())
    return made


# The feed


@dataclasses.dataclass(frozen=True)
class ChangeBatch:
    """Changes in cursor order, where to poll from next, and whether more are waiting; with
    the features of the vpdq hashes among them, by hash id."""

    rows: Sequence[store.ChangeRow]
    next: int
    has_more: bool
    features: dict[int, str] = dataclasses.field(default_factory=dict)


def fetch_changes(
    *,
    session: Session,
    platform: Platform,
    after: int,
    limit: int,
    route: str = store.NATIVE,
) -> ChangeBatch:
    """The changes of the platform's feed (real or sandbox) after `after`, in order, of the
    signals `route` serves, with the features of vpdq hashes (a page ends early rather than
    carry more than FEED_PAGE_FEATURES_BYTES of them); records that the platform now has them
    through that route."""
    count_feed_poll(platform=platform.name)
    signals = STOPNCII_SIGNALS if route == store.STOPNCII else None
    rows = store.fetch_changes(
        session=session, after=after, limit=limit + 1, sandbox=platform.sandbox, signals=signals
    )
    page = rows[:limit]
    page, features = _with_features(session, page, budget=FEED_PAGE_FEATURES_BYTES)
    has_more = len(rows) > len(page)
    batch = ChangeBatch(page, page[-1].cursor if page else after, has_more, features)
    now = utcnow()
    last_poll = platform.native_polled_at if route == store.NATIVE else platform.stopncii_polled_at
    # Poll times are kept to the minute, so an empty poll writes at most once a minute.
    stale = last_poll is None or now - last_poll >= datetime.timedelta(minutes=1)
    if page or stale:
        with write(session):
            if stale:
                store.mark_platform_polled(
                    session=session, platform_id=platform.id, route=route, at=now
                )
            if page:
                store.advance_platform_cursor(
                    session=session, platform_id=platform.id, cursor=batch.next, route=route
                )
    return batch


def _with_features(
    session: Session, rows: Sequence[store.ChangeRow], *, budget: int
) -> tuple[Sequence[store.ChangeRow], dict[int, str]]:
    """The first of `rows` whose vpdq features fit in `budget` bytes (at least one row),
    and those features by hash id."""
    wanted = [(index, r.hash_id) for index, r in enumerate(rows) if r.algorithm == VPDQ]
    features: dict[int, str] = {}
    used = 0
    for start in range(0, len(wanted), _FEATURES_AT_ONCE):
        group = wanted[start : start + _FEATURES_AT_ONCE]
        found = store.fetch_hash_features(session=session, hash_ids={h for _, h in group})
        for index, hash_id in group:
            size = len(found.get(hash_id, ""))
            if used + size > budget and index > 0:
                return rows[:index], features
            used += size
            if hash_id in found:
                features[hash_id] = found[hash_id]
    return rows, features


def first_cursor_since(*, session: Session, since: datetime.datetime) -> int:
    """The cursor to poll after, to see every change from `since` on."""
    first = store.get_first_cursor_since(session=session, since=since)
    return first - 1 if first is not None else store.get_last_cursor(session=session)


def describe_feed(*, session: Session, platform: Platform) -> tuple[str, int]:
    """This Haven's database identity ("" if unmigrated) and the highest cursor of the feed
    `platform` reads (the real or the sandbox one).

    A client keeps both: another identity means its cursor is from another Haven; a last
    cursor below its own means this feed was restored to an earlier point.
    """
    last = store.get_last_cursor(session=session, sandbox=platform.sandbox)
    return get_database_identity(session), last


ExportBatch = tuple[Sequence[store.HashRow], dict[int, str]]


def export_active(*, session: Session, platform: Platform) -> tuple[int, Iterator[ExportBatch]]:
    """A snapshot of every active hash, in batches with the features of their vpdq hashes
    (by hash id), and the cursor to continue polling from.

    A hash that changes while the export runs is left out or kept by its state at the
    snapshot cursor; either way, polling from that cursor brings the platform up to date.
    """
    up_to = store.get_last_cursor(session=session, sandbox=platform.sandbox)

    def rows() -> Iterator[ExportBatch]:
        for batch in store.stream_active_hashes(
            session=session, up_to=up_to, sandbox=platform.sandbox
        ):
            yield from _export_batches(session, batch)
        with write(session):
            store.mark_platform_polled(
                session=session, platform_id=platform.id, route=store.NATIVE, at=utcnow()
            )
            store.advance_platform_cursor(session=session, platform_id=platform.id, cursor=up_to)

    return up_to, rows()


def _export_batches(session: Session, rows: Sequence[store.HashRow]) -> Iterator[ExportBatch]:
    """`rows` in slices that each hold at most _FEATURES_AT_ONCE vpdq hashes, with their
    features: the export never holds more than a few MB of features at once."""
    start = 0
    vpdq_ids: list[int] = []
    for index, row in enumerate(rows):
        if row.algorithm == VPDQ:
            vpdq_ids.append(row.id)
            if len(vpdq_ids) == _FEATURES_AT_ONCE:
                yield (
                    rows[start : index + 1],
                    store.fetch_hash_features(session=session, hash_ids=vpdq_ids),
                )
                start, vpdq_ids = index + 1, []
    if start < len(rows):
        features = store.fetch_hash_features(session=session, hash_ids=vpdq_ids) if vpdq_ids else {}
        yield rows[start:], features


def record_feedback(
    *, session: Session, platform: Platform, feedback: Sequence[FeedbackIn]
) -> None:
    """Record a platform's reports, all or none; per hash the latest replaces any earlier one,
    whichever API carried it. Hashes unknown to the platform's feed are 404."""
    with write(session):
        for item in feedback:
            hash_row = find_hash(
                session=session, platform=platform, algorithm=item.algorithm, value=item.value
            )
            store.save_feedback(
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


def find_hash(*, session: Session, platform: Platform, algorithm: str, value: str) -> Hash:
    """A hash in the platform's feed (real or sandbox), or 404."""
    hash_row = store.get_hash(
        session=session, algorithm=algorithm, value=value, sandbox=platform.sandbox
    )
    if hash_row is None:
        raise NotFound(f"No {algorithm} hash {value} is in the feed.", code="hash_not_found")
    return hash_row
