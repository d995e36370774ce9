"""Processes share the audience index through one memory-mapped snapshot, and each catches up
from the database by location change number."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from alerts.audience import LiveAudience
from geo.areas import parse_area
from haven.app import create_app
from haven.db import get_session
from tests.alerts.test_alerts_api import LOOP, SPRINGFIELD
from tests.conftest import make_settings
from tests.factories import create_subscribers

COOK = parse_area("same", "017031").geometry


def count(app: Flask) -> int:
    live: LiveAudience = app.extensions["haven.audience"]
    with app.app_context():
        return len(live.audience(get_session(), [COOK]).subscriber_ids)


def test_a_second_process_maps_the_first_ones_snapshot_and_catches_up(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    create_subscribers(app, [("+13125550101", *LOOP), ("+12175550102", *SPRINGFIELD)])
    settings = make_settings(database_url, audience_snapshot_dir=str(tmp_path))
    first = create_app(settings)
    assert count(first) == 1
    snapshots = list(tmp_path.glob("audience-*.snapshot"))
    assert len(snapshots) == 1
    written = snapshots[0].stat().st_mtime_ns

    create_subscribers(app, [("+13125550103", *LOOP)])  # after the snapshot was written
    second = create_app(settings)
    assert count(second) == 2
    assert snapshots[0].stat().st_mtime_ns == written  # opened, not rebuilt
    assert count(first) == 2  # the first catches up too


def test_without_a_snapshot_folder_each_process_builds_its_own(app: Flask) -> None:
    create_subscribers(app, [("+13125550101", *LOOP)])
    live: LiveAudience = app.extensions["haven.audience"]
    assert live.snapshot is None
    assert count(app) == 1
