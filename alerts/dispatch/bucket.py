"""The provider's rate limit as a token bucket: in memory for one process, in Redis for many.

Both reserve tokens ahead (the count may go below zero) and tell the caller how long to
wait, so concurrent senders queue fairly and the long-run rate is exactly the configured one.
A sender with many SMS in flight takes its tokens a group at a time (`take(count)`), one
Redis call for the group.
The Redis bucket uses Redis's own clock, so workers on machines with skewed clocks agree.
The local bucket reads and sleeps on a `Clock`, which tests replace with a virtual one.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate) - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
local wait = 0
if tokens < 0 then wait = -tokens / rate end
return {tostring(now), tostring(wait)}
"""


class Clock(Protocol):
    """Where a bucket reads the time and waits."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` from the last reading."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """time.sleep()."""
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class TokenBucket(Protocol):
    """Blocks the caller until it may send `count` more messages, `rate` a second."""

    rate: float

    def take(self, count: int = 1) -> None:
        """Wait for `count` tokens."""
        ...


class LocalBucket:
    """A token bucket shared by the threads of one process."""

    def __init__(
        self, rate: float, burst: float | None = None, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock.monotonic()
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> None:
        """Reserve `count` tokens and sleep until they are due."""
        with self._lock:
            now = self.clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate) - count
            self._at = now
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self.clock.sleep(wait)


class RedisBucket:
    """A token bucket shared by every worker on every machine, kept in Redis."""

    def __init__(
        self, client: redis.Redis, key: str, rate: float, burst: float | None = None
    ) -> None:
        self.key = key
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._take = client.register_script(_TAKE)

    def reserve(self, count: int = 1) -> tuple[float, float]:
        """Reserve `count` tokens in Redis without waiting: (Redis's time now, seconds until
        they are due). Every process's reservations form one schedule at `rate`."""
        now, wait = self._take(keys=[self.key], args=[self.rate, self.burst, count])
        return float(now), float(wait)

    def take(self, count: int = 1) -> None:
        """Reserve `count` tokens in Redis and sleep until they are due."""
        _now, wait = self.reserve(count)
        if wait > 0:
            time.sleep(wait)
