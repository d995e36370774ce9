"""Flood control without storing addresses: counters keyed by a keyed hash, with short expiry.

Guesses at a secret (a case's PIN) are slowed, never locked out: `Backoff` makes each wrong
guess beyond a few free ones wait twice as long as the last, up to a cap, and the wait is kept
per subject (a case and the client guessing at it) and per client, so one client's guesses
never make another wait (docs/takedown-page.md, "Wrong PINs").

Counters live in memory, or in Redis when `HAVEN_REDIS_URL` is set (shared by every process).
Memory counters are one process's own, so `haven serve --workers N` (N > 1) requires Redis.
When Redis does not answer, every rate-limited route refuses with 503
`counter_store_unavailable` and Retry-After: it never runs unmetered, and never answers 500.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import redis
from flask import Flask, Response, current_app, request
from limits import parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from redis.lock import Lock as RedisLock
from sqlalchemy.orm import Session

from haven.errors import HavenError, Locked, TooManyRequests, json_error
from haven.health import Readiness, add_readiness_check

log = logging.getLogger(__name__)

RETRY_AFTER_STORE_DOWN = 30  # seconds: long enough for Redis to restart, short for a person
# A Redis that does not answer must not hold a request (or a readiness probe) for long.
_REDIS_OPTIONS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
# The longest one guess holds its subjects while it is counted (a few Redis round trips).
_GUESS_LOCK_SECONDS = 5.0


class CounterStoreUnavailable(HavenError):
    """The counter store (Redis) does not answer, so nothing rate-limited can be counted."""

    status = 503
    code = "counter_store_unavailable"
    retry_after = RETRY_AFTER_STORE_DOWN

    def __init__(self) -> None:
        super().__init__(
            "Haven cannot count requests right now, so it cannot take this one. "
            f"Please try again in {RETRY_AFTER_STORE_DOWN} seconds."
        )


@contextmanager
def _counting() -> Iterator[None]:
    """Turn a counter store failure into CounterStoreUnavailable."""
    try:
        yield
    except StorageError as exc:
        raise CounterStoreUnavailable() from exc


class WaitToGuess(TooManyRequests):
    """A guess came before the wait earned by earlier wrong ones was over."""

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"Too many wrong tries. Please wait {seconds} seconds, then try again.",
            code="wait_to_retry",
            details={"retry_after": seconds},
            retry_after=seconds,
        )


@dataclasses.dataclass(frozen=True)
class Backoff:
    """How wrong guesses are slowed: after `free` wrong ones, each makes the next wait
    `first_wait` seconds, doubling with every further wrong one, at most `max_wait`. A
    subject's count is forgotten `window` seconds after its first wrong guess."""

    free: int
    first_wait: int
    max_wait: int
    window: int = 24 * 3600

    def wait_after(self, wrong: int) -> int:
        """The seconds a subject waits after its `wrong`-th wrong guess."""
        if wrong < self.free:
            return 0
        return min(self.max_wait, self.first_wait << min(wrong - self.free, 62))

    def most_per_window(self) -> int:
        """The most guesses one subject can have judged in one window, each made as soon as
        it is allowed."""
        guesses, at = 0, 0
        while at < self.window:
            guesses += 1
            at += self.wait_after(guesses)
        return guesses


@dataclasses.dataclass
class Guess:
    """A guess admitted by `Throttle.admit_guess`, to be settled once it is judged."""

    keys: list[str]  # one counter key per subject, in the order given
    resets: list[bool]  # whether a right guess forgets the subject's wrong ones
    waits: list[str] = dataclasses.field(default_factory=list)  # wait keys this guess set


def client_address() -> str:
    """The client as throttles count it: its IPv4 address, or its IPv6 /64 (one household or
    phone holds a whole /64, so counting single IPv6 addresses would count nothing)."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _locked(minutes: int) -> Locked:
    return Locked(
        f"Too many wrong attempts. This is locked for {minutes} minutes; please wait and try again."
    )


class Throttle:
    """Rate limits, lockouts and guess backoffs over one counter store."""

    def __init__(self, storage_uri: str, secret: str) -> None:
        options = {} if storage_uri.startswith("memory:") else _REDIS_OPTIONS
        # wrap_exceptions: every store failure arrives as limits' StorageError, whatever the store.
        self.storage = cast(
            Storage, storage_from_string(storage_uri, wrap_exceptions=True, **options)
        )
        self.limiter = FixedWindowRateLimiter(self.storage)
        self._key = hashlib.sha256(b"haven-throttle:" + secret.encode()).digest()
        # The memory store's incr returns the count outside its own lock; this makes the
        # count each attempt sees its own. (Redis INCR is atomic across processes anyway.)
        self._incr_lock = threading.Lock()
        # Guesses are admitted one at a time per subject (admit_guess): in this process for
        # the memory store, through Redis locks across processes.
        self._guess_lock = threading.Lock()
        self._redis = (
            None
            if storage_uri.startswith("memory:")
            else redis.Redis.from_url(storage_uri, **_REDIS_OPTIONS)
        )

    def pseudonym(self, value: str) -> str:
        """A keyed hash of `value`: stable within this deployment, useless without the key."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def limit_client(self, limit: str, scope: str) -> None:
        """Count one request from the current client against `limit`, or raise 429."""
        client = self.pseudonym(request.remote_addr or "unknown")
        for item in parse_many(limit):  # "30/minute;500/day": every limit counts
            with _counting():
                allowed = self.limiter.hit(item, scope, client)
            if not allowed:
                raise TooManyRequests(
                    f"Too many requests. Please wait {item.get_expiry()} seconds and try again."
                )

    def limit_subject(self, limit: str, scope: str, subject: str) -> None:
        """Count one request by `subject` (an account, never an address) against each limit of
        `limit` ("600/minute;10000/hour"), or raise 429 naming the limit, with Retry-After."""
        for item in parse_many(limit):
            with _counting():
                allowed = self.limiter.hit(item, scope, subject)
                if not allowed:
                    reset = self.limiter.get_window_stats(item, scope, subject).reset_time
            if not allowed:
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"Rate limit of {item} per platform reached on the {scope} routes. "
                    f"Retry after {wait} seconds.",
                    details={"limit": str(item), "retry_after": wait},
                    retry_after=wait,
                )

    def spend_attempt(self, scope: str, subject: str, *, allowed: int, minutes: int) -> int:
        """Count one attempt at `subject` before it is evaluated, and return its number.

        Raises 423 while `subject` is locked, and for every attempt beyond `allowed` within
        `minutes` of the first: the count is taken before the attempt is judged, so concurrent
        attempts get no more than `allowed` evaluated between them.
        """
        key = self.pseudonym(subject)
        with _counting():
            if self.storage.get(f"lock:{scope}:{key}"):
                raise _locked(minutes)
            with self._incr_lock:
                attempt = self.storage.incr(f"fail:{scope}:{key}", minutes * 60)
        if attempt > allowed:
            raise _locked(minutes)
        return attempt

    def record_failure(
        self, scope: str, subject: str, *, attempt: int, allowed: int, minutes: int
    ) -> None:
        """After attempt number `attempt` failed: the `allowed`-th locks `subject` for
        `minutes` from now. (The attempt count is left to expire: clearing it here would let
        an attempt already on its way in count from one again.)"""
        if attempt >= allowed:
            with _counting():
                self.storage.incr(f"lock:{scope}:{self.pseudonym(subject)}", minutes * 60)

    def clear_failures(self, scope: str, subject: str) -> None:
        """Forget earlier attempts after a success."""
        with _counting():
            self.storage.clear(f"fail:{scope}:{self.pseudonym(subject)}")

    def admit_guess(self, scope: str, subjects: Sequence[tuple[str, Backoff, bool]]) -> Guess:
        """Let one guess be judged, or raise 429 `wait_to_retry` (with Retry-After) while any
        of `subjects` (subject, its backoff, whether a right guess forgets its wrong ones) must
        still wait after earlier wrong guesses.

        The guess is counted as wrong before it is judged, and when that count makes the
        subject wait, the wait starts at once. Guesses at the same subjects are admitted one
        at a time (`_one_at_a_time`), so concurrent guesses get no more judged between them
        than sequential ones would, and each wait is the one its count earns. A refused guess
        is not counted and extends no wait. Settle the guess with `settle_guess` once it is
        judged.
        """
        guess = Guess(
            keys=[f"{scope}:{self.pseudonym(subject)}" for subject, _, _ in subjects],
            resets=[reset for _, _, reset in subjects],
        )
        with _counting(), self._one_at_a_time(guess.keys):
            wait = max(self._wait_left(key) for key in guess.keys)
            if wait:
                raise WaitToGuess(wait)
            for key, (_, backoff, _) in zip(guess.keys, subjects, strict=True):
                wrong = self.storage.incr(f"guesses:{key}", backoff.window)
                hold = backoff.wait_after(wrong)
                if hold:  # no wait is running (checked above), so this one starts afresh
                    self.storage.incr(f"wait:{key}", hold)
                    guess.waits.append(key)
        return guess

    @contextmanager
    def _one_at_a_time(self, keys: Sequence[str]) -> Iterator[None]:
        """Hold every guess at `keys` but this one until it is counted: a lock in this process
        for the memory store, Redis locks (taken in a fixed order) for Redis."""
        if self._redis is None:
            with self._guess_lock:
                yield
            return
        held: list[RedisLock] = []
        try:
            for key in sorted(set(keys)):
                lock = self._redis.lock(
                    f"haven:guess-lock:{key}",
                    timeout=_GUESS_LOCK_SECONDS,
                    blocking_timeout=_GUESS_LOCK_SECONDS,
                    sleep=0.005,
                )
                if not lock.acquire():
                    raise CounterStoreUnavailable()
                held.append(lock)
            yield
        except RedisError as exc:
            raise CounterStoreUnavailable() from exc
        finally:
            for lock in reversed(held):
                try:
                    lock.release()
                except RedisError:  # it expires on its own
                    log.warning("could not release a guess lock", exc_info=True)

    def settle_guess(self, guess: Guess, *, right: bool) -> None:
        """After the guess was judged: a wrong one keeps its count and wait. A right one
        forgets the wrong guesses of the subjects that reset, and for the others takes back
        its own count and wait (so a client cannot clear its count with a PIN it knows)."""
        if not right:
            return
        with _counting():
            for key, reset in zip(guess.keys, guess.resets, strict=True):
                if reset:
                    self.storage.clear(f"guesses:{key}")
                    self.storage.clear(f"wait:{key}")
                    continue
                self.storage.incr(f"guesses:{key}", 1, amount=-1)
                if key in guess.waits:
                    self.storage.clear(f"wait:{key}")

    def _wait_left(self, key: str) -> int:
        """Whole seconds until `key`'s subject may guess again (0: now)."""
        if not self.storage.get(f"wait:{key}"):
            return 0
        return max(1, math.ceil(self.storage.get_expiry(f"wait:{key}") - time.time()))

    def is_reachable(self) -> bool:
        """Whether the counter store answers (memory always does)."""
        try:
            return bool(self.storage.check())
        except StorageError:
            return False


def init_app(app: Flask, *, redis_url: str | None, secret: str) -> None:
    """Bind a throttle to the app; /readyz reports its store as "counters"."""
    uri = redis_url if redis_url else "memory://"
    throttle = Throttle(uri, secret)
    app.extensions["haven.throttle"] = throttle

    def counters(_session: Session) -> Readiness:
        return Readiness.READY if throttle.is_reachable() else Readiness.UNAVAILABLE

    add_readiness_check(app, name="counters", check=counters)

    # Code that counts through `throttle.limiter` directly gets the same 503 as the Throttle's
    # own methods give.
    @app.errorhandler(StorageError)
    def _store_down(_exc: StorageError) -> Response:
        refusal = CounterStoreUnavailable()
        response = json_error(refusal.status, refusal.code, refusal.message)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response


def get_throttle() -> Throttle:
    """The current app's throttle."""
    throttle: Throttle = current_app.extensions["haven.throttle"]
    return throttle
