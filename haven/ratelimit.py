"""Flood control without storing addresses: counters keyed by a keyed hash, with short expiry.

Counters live in memory, or in Redis when `HAVEN_REDIS_URL` is set (shared by every process).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import cast

from flask import Flask, current_app, request
from limits import parse, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from haven.errors import Locked, TooManyRequests


class Throttle:
    """Rate limits and lockouts over one counter store."""

    def __init__(self, storage_uri: str, secret: str) -> None:
        self.storage = cast(Storage, storage_from_string(storage_uri))
        self.limiter = FixedWindowRateLimiter(self.storage)
        self._key = hashlib.sha256(b"haven-throttle:" + secret.encode()).digest()

    def pseudonym(self, value: str) -> str:
        """A keyed hash of `value`: stable within this deployment, useless without the key."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def limit_client(self, limit: str, scope: str) -> None:
        """Count one request from the current client against `limit`, or raise 429."""
        client = self.pseudonym(request.remote_addr or "unknown")
        item = parse(limit)
        if not self.limiter.hit(item, scope, client):
            raise TooManyRequests(
                f"Too many requests. Please wait {item.get_expiry()} seconds and try again."
            )

    def limit_subject(self, limit: str, scope: str, subject: str) -> None:
        """Count one request by `subject` (an account, never an address) against each limit of
        `limit` ("600/minute;10000/hour"), or raise 429 naming the limit, with Retry-After."""
        for item in parse_many(limit):
            if not self.limiter.hit(item, scope, subject):
                reset = self.limiter.get_window_stats(item, scope, subject).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"Rate limit of {item} per platform reached on the {scope} routes. "
                    f"Retry after {wait} seconds.",
                    details={"limit": str(item), "retry_after": wait},
                    retry_after=wait,
                )

    def check_lock(self, scope: str, subject: str, *, minutes: int) -> None:
        """Raise 423 while `subject` is locked after too many failures."""
        if self.storage.get(f"lock:{scope}:{self.pseudonym(subject)}"):
            raise Locked(
                f"Too many wrong attempts. This is locked for {minutes} minutes; "
                "please wait and try again."
            )

    def record_failure(self, scope: str, subject: str, *, allowed: int, minutes: int) -> None:
        """Count a failure; the `allowed`-th within the window locks `subject` for `minutes`."""
        key = self.pseudonym(subject)
        failures = self.storage.incr(f"fail:{scope}:{key}", minutes * 60)
        if failures >= allowed:
            self.storage.clear(f"fail:{scope}:{key}")
            self.storage.incr(f"lock:{scope}:{key}", minutes * 60)

    def clear_failures(self, scope: str, subject: str) -> None:
        """Forget earlier failures after a success."""
        self.storage.clear(f"fail:{scope}:{self.pseudonym(subject)}")


def init_app(app: Flask, *, redis_url: str | None, secret: str) -> None:
    """Bind a throttle to the app."""
    uri = redis_url if redis_url else "memory://"
    app.extensions["haven.throttle"] = Throttle(uri, secret)


def get_throttle() -> Throttle:
    """The current app's throttle."""
    throttle: Throttle = current_app.extensions["haven.throttle"]
    return throttle
