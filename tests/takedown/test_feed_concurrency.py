"""The feed under concurrent writers: a poller sees every change exactly once, in order.

Writers are slowed down at random just before they commit, which widens the window in which a
change with a higher cursor could become visible before one with a lower cursor. Without the
feed lock (see takedown.store.lock_feed) this test fails on PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from takedown.service import PlatformCredentials
from tests.factories import bearer, video_hash

WRITERS = 6
CASES_PER_WRITER = 25


@pytest.fixture
def slow_commits() -> Iterator[None]:
    def _dawdle(_session: Session) -> None:
        time.sleep(random.uniform(0, 0.004))

    event.listen(Session, "before_commit", _dawdle)
    yield
    event.remove(Session, "before_commit", _dawdle)


@pytest.mark.usefixtures("slow_commits")
def test_concurrent_writers_and_a_poller_see_each_change_once_in_order(
    app: Flask, platform: PlatformCredentials
) -> None:
    submitted: set[str] = set()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def write() -> None:
        client = app.test_client()
        try:
            for _ in range(CASES_PER_WRITER):
                item = video_hash()
                response = client.post("/api/v1/takedown/cases", json={"hashes": [item]})
                assert response.status_code == 201, response.json
                with lock:
                    submitted.add(item["value"])
        except BaseException as exc:
            errors.append(exc)

    seen: list[dict[str, Any]] = []
    writers = [threading.Thread(target=write) for _ in range(WRITERS)]
    poller = app.test_client()
    after = "0"

    def poll_once() -> None:
        nonlocal after
        response = poller.get(
            "/api/v1/feed/hashes",
            query_string={"after": after, "limit": 7},
            headers=bearer(platform.api_key),
        )
        assert response.status_code == 200
        seen.extend(response.json["changes"])
        after = response.json["next"]

    for thread in writers:
        thread.start()
    while any(t.is_alive() for t in writers):
        poll_once()
    for thread in writers:
        thread.join()
    for _ in range(WRITERS * CASES_PER_WRITER):
        before = len(seen)
        poll_once()
        if len(seen) == before:
            break

    assert errors == []
    cursors = [int(change["cursor"]) for change in seen]
    assert cursors == sorted(cursors), "changes arrived out of order"
    values = [change["value"] for change in seen]
    assert len(values) == len(set(values)), "a change was delivered twice"
    assert set(values) == submitted, f"{len(submitted - set(values))} changes were never seen"
