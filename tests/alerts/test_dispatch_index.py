"""A claim reads an ordered index range, however many deliveries wait: the database never
sorts every waiting delivery to hand out the first few (at a million waiting, that sort was
most of each claim's time on PostgreSQL). Checked on the query plans, not on timings."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts.dispatch.store import DeliveryKind, abandoned_query, due_query
from haven.db import get_session, utcnow


def plan(session: Session, query: Any) -> str:
    """The plan the database picks for `query`, as text; PostgreSQL is told to avoid sorts
    and sequential scans wherever an index can do instead."""
    dialect = session.get_bind().dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_sort = off"))
        found = session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
        return json.dumps(found)
    return " | ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


def test_waiting_sms_are_read_from_the_due_index_in_order_without_a_sort(app: Flask) -> None:
    now = utcnow() + datetime.timedelta(hours=1)
    with app.app_context():
        session = get_session()
        found = plan(session, due_query(kind="sms", now=now, limit=250))
        session.rollback()
    assert "ix_delivery_due" in found, found
    assert "Sort" not in found, found  # PostgreSQL
    assert "TEMP B-TREE" not in found, found  # SQLite


def test_waiting_channel_messages_are_found_through_the_due_index(app: Flask) -> None:
    # Channel ids are a range (> 0), so their order costs a sort of the waiting channel
    # messages alone, which are sent one at a time and are far fewer than SMS.
    now = utcnow() + datetime.timedelta(hours=1)
    with app.app_context():
        session = get_session()
        found = plan(session, due_query(kind="channel", now=now, limit=250))
        session.rollback()
    assert "ix_delivery_due" in found, found


@pytest.mark.parametrize("kind", ["sms", "channel"])
def test_abandoned_deliveries_are_found_through_the_due_index(
    app: Flask, kind: DeliveryKind
) -> None:
    # Only deliveries being sent can be abandoned, a few batches at most: the index finds
    # them by status and kind, and sorting those few is cheap.
    with app.app_context():
        session = get_session()
        found = plan(session, abandoned_query(kind=kind, now=utcnow(), limit=250))
        session.rollback()
    assert "ix_delivery_due" in found, found
