"""The feed sequencer: cases commit without cursors, and one locked step gives their changes
cursors after commit (takedown.service.sequence_feed).

A poller must still see every change exactly once, in order, while cases are submitted and
withdrawn concurrently; and a case whose process died between its commit and the sequencer
is not lost: the worker's run of the sequencer puts it in the feed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from haven.db import Database, this_hour, write
from haven.worker import run_once
from takedown import codes, store
from takedown.models import ACTIVE, Case
from takedown.service import PlatformCredentials
from tests.factories import bearer, image_hashes, submit_case, video_hash

WRITERS = 6
CASES_PER_WRITER = 20


@pytest.fixture
def slow_commits() -> Iterator[None]:
    """Writers dawdle before each commit, widening the window in which a higher cursor could
    become visible before a lower one."""

    def _dawdle(_session: Session) -> None:
        time.sleep(random.uniform(0, 0.004))

    event.listen(Session, "before_commit", _dawdle)
    yield
    event.remove(Session, "before_commit", _dawdle)


class Poller:
    """A platform polling the native feed from its last `next`, a few changes at a time."""

    def __init__(self, app: Flask, platform: PlatformCredentials) -> None:
        self.client = app.test_client()
        self.key = platform.api_key
        self.after = "0"
        self.seen: list[dict[str, Any]] = []

    def poll(self) -> int:
        """One page; how many changes it held."""
        response = self.client.get(
            "/api/v1/feed/hashes",
            query_string={"after": self.after, "limit": 7},
            headers=bearer(self.key),
        )
        assert response.status_code == 200
        page: dict[str, Any] = response.json  # type: ignore[assignment]
        self.seen.extend(page["changes"])
        self.after = page["next"]
        return len(page["changes"])

    def drain(self) -> None:
        """Poll until a page comes back empty."""
        while self.poll():
            pass

    def history(self) -> dict[str, list[str]]:
        """Each value's statuses, in the order the feed served them."""
        statuses: dict[str, list[str]] = defaultdict(list)
        for change in self.seen:
            statuses[change["value"]].append(change["status"])
        return statuses


def _withdraw(client: FlaskClient, case: dict[str, Any]) -> None:
    response = client.post(
        f"/api/v1/takedown/cases/{case['case_number']}/withdraw",
        headers={"X-Case-Pin": case["pin"]},
    )
    assert response.status_code == 200, response.json
    status: dict[str, Any] = response.json  # type: ignore[assignment]
    assert {h["status"] for h in status["hashes"]} == {"withdrawn"}


@pytest.mark.usefixtures("slow_commits")
def test_concurrent_submits_and_withdrawals_reach_a_poller_once_each_in_order(
    app: Flask, platform: PlatformCredentials
) -> None:
    expected: dict[str, list[str]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def write_cases(seed: int) -> None:
        client = app.test_client()
        rng = random.Random(seed)
        try:
            for _ in range(CASES_PER_WRITER):
                item = video_hash()
                case = submit_case(client, [item])
                withdrawn = rng.random() < 0.3
                if withdrawn:
                    _withdraw(client, case)
                with lock:
                    expected[item["value"]] = ["active", "withdrawn"] if withdrawn else ["active"]
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write_cases, args=(n,)) for n in range(WRITERS)]
    poller = Poller(app, platform)
    for thread in writers:
        thread.start()
    while any(t.is_alive() for t in writers):
        poller.poll()
    for thread in writers:
        thread.join()
    poller.drain()

    assert errors == []
    cursors = [int(change["cursor"]) for change in poller.seen]
    assert cursors == sorted(set(cursors)), "changes arrived out of order, or twice"
    assert poller.history() == expected


def _commit_without_sequencing(app: Flask, hashes: list[dict[str, Any]]) -> None:
    """What a process that dies between its commit and the sequencer leaves behind: the
    submission's own transaction, committed, and nothing after it."""
    database: Database = app.extensions["haven.db"]
    keys = [(h["media"], h["algorithm"], h["value"]) for h in hashes]
    with database.sessions() as session, write(session):
        case = store.save_case(
            session=session,
            case=Case(
                number=codes.new_case_number(),
                pin_hash=codes.hash_pin(codes.new_pin()),
                status=ACTIVE,
                created_at=this_hour(),
            ),
        )
        ids = store.ensure_hashes(session=session, keys=keys, qualities={})
        store.link_case_hashes(session=session, case_id=case.id, hash_ids=ids.values())
        store.queue_for_feed(session=session, case_id=case.id)


def test_a_case_left_unsequenced_by_a_crash_reaches_the_feed_through_the_worker(
    app: Flask, platform: PlatformCredentials
) -> None:
    poller = Poller(app, platform)
    hashes = image_hashes(2)
    _commit_without_sequencing(app, hashes)

    poller.drain()
    assert poller.seen == [], "a change without a cursor must not be visible"

    run_once(app)  # the in-process worker's round (Celery beat runs the same job)
    poller.drain()
    run_once(app)
    poller.drain()
    assert poller.history() == {h["value"]: ["active"] for h in hashes}
    database: Database = app.extensions["haven.db"]
    with database.sessions() as session:
        assert store.count_pending(session=session) == 0


def test_the_next_submission_sequences_a_case_a_crash_left_behind_first(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    poller = Poller(app, platform)
    left, later = image_hashes(1), image_hashes(1)
    _commit_without_sequencing(app, left)

    submit_case(client, later)
    poller.drain()

    assert [c["value"] for c in poller.seen] == [h["value"] for h in left + later]


def test_cases_submitted_at_once_with_the_same_new_hash_each_hold_it(
    app: Flask, platform: PlatformCredentials
) -> None:
    shared = video_hash()
    start = threading.Barrier(WRITERS)
    cases: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        client = app.test_client()
        try:
            start.wait()
            cases.append(submit_case(client, [shared, video_hash()]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    client = app.test_client()
    for case in cases:
        response = client.get(
            f"/api/v1/takedown/cases/{case['case_number']}", headers={"X-Case-Pin": case["pin"]}
        )
        assert response.status_code == 200
        status: dict[str, Any] = response.json  # type: ignore[assignment]
        assert shared["value"] in {h["value"] for h in status["hashes"]}
        assert len(status["hashes"]) == 2
    poller = Poller(app, platform)
    poller.drain()
    assert poller.history()[shared["value"]] == ["active"]
    assert len(poller.seen) == WRITERS + 1
