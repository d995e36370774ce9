"""Flood control without storing addresses: counters keyed by a keyed hash, with short expiry.

Counters live in memory, or in Redis when `HAVEN_REDIS_URL` is set (shared by every process).
Memory counters are one process's own, so `haven serve --workers N` (N > 1) requires Redis.
When Redis does not answer, every rate-limited route refuses with 503
`counter_store_unavailable` and Retry-After: it never runs unmetered, and never answers 500.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import Flask, Response, current_app, request
from limits import parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.orm import Session

from haven.errors import HavenError, Locked, TooManyRequests, json_error
from haven.health import Readiness, add_readiness_check

RETRY_AFTER_STORE_DOWN = 30  # seconds: long enough for Redis to restart, short for a person
# A Redis that does not answer must not hold a request (or a readiness probe) for long.
_REDIS_OPTIONS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


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


def _locked(minutes: int) -> Locked:
    return Locked(
        f"Too many wrong attempts. This is locked for {minutes} minutes; please wait and try again."
    )


class Throttle:
    """Rate limits and lockouts over one counter store."""

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
