"""The shared rate limit holds across worker processes: every process's reservations from the
Redis token bucket form one schedule at the configured rate (within 5%), whether senders take
one token per SMS or a group for the SMS they put in flight together.

The schedule is read from the bucket itself (Redis's clock and the waits it hands out), so the
test measures no wall-clock time of its own and holds on a busy machine."""

from __future__ import annotations

import multiprocessing
import secrets

import pytest
import redis

from alerts.dispatch.bucket import RedisBucket

pytestmark = pytest.mark.redis

RATE = 50.0  # slow enough that the four processes reserve faster than it
BURST = 5.0


def _reserve(url: str, key: str, group: int, rounds: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One worker process: `rounds` reservations of `group` tokens; their due times."""
    bucket = RedisBucket(redis.Redis.from_url(url), key, RATE, BURST)
    due = []
    for _ in range(rounds):
        now, wait = bucket.reserve(group)
        due.append((now + wait, group))
    out.put(due)


@pytest.mark.parametrize("group", [1, 10])
def test_the_redis_bucket_holds_the_rate_across_processes(redis_url: str, group: int) -> None:
    key = f"haven-test-rate-{secrets.token_hex(4)}"
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [
        context.Process(target=_reserve, args=(redis_url, key, group, 600 // group, out))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    try:
        schedule = sorted(entry for _ in processes for entry in out.get(timeout=60))
    finally:
        for process in processes:
            process.join(30)
        redis.Redis.from_url(redis_url).delete(key)
    # Four processes took 2,400 tokens between them: apart from the burst the bucket starts
    # with, they are due no faster than the rate, and (reserved back to back) no slower.
    tokens = sum(count for _, count in schedule)
    span = schedule[-1][0] - schedule[0][0]
    rate = (tokens - BURST - schedule[0][1]) / span
    assert tokens == 2400
    assert abs(rate / RATE - 1) <= 0.05, f"{rate:.1f} tokens/s against {RATE:.0f}"
