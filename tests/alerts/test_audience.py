"""Processes share the audience index through one memory-mapped snapshot, and each catches up
from the database by location change number."""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from alerts.audience import LiveAudience
from alerts.models import DispatchJob
from geo.areas import parse_area
from geo.index import AudienceIndex
from haven.app import create_app
from haven.db import get_database_identity, get_session
from haven.health import Readiness
from tests.alerts.test_alerts_api import LOOP, SPRINGFIELD
from tests.alerts.test_dispatch import approve
from tests.conftest import make_settings
from tests.factories import create_agency, create_officer, create_subscribers

COOK = parse_area("same", "017031").geometry


def count(app: Flask) -> int:
    return len(reached(app))


def reached(app: Flask) -> list[int]:
    """The subscribers inside Cook County, by id."""
    live: LiveAudience = app.extensions["haven.audience"]
    with app.app_context():
        return sorted(live.audience(get_session(), [COOK]).subscriber_ids.tolist())


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


def reset(database_url: str) -> None:
    """Drop every table and migrate again at the same URL: an empty database, a new identity."""
    from alembic import command
    from sqlalchemy import create_engine

    from haven.migrate import alembic_config, upgrade

    engine = create_engine(database_url)
    command.downgrade(alembic_config(engine), "base")
    upgrade(engine)
    engine.dispose()


def delivered_phones(app: Flask) -> list[str]:
    from sqlalchemy import select

    from alerts.models import Delivery, Subscriber

    with app.app_context():
        query = select(Subscriber.phone).join(Delivery, Delivery.subscriber_id == Subscriber.id)
        return sorted(str(phone) for phone in get_session().scalars(query))


def record_one_job(app: Flask) -> bool:
    from alerts.dispatch.service import record_next_job

    with app.app_context():
        job = record_next_job(session=get_session(), audience=app.extensions["haven.audience"])
        return job is not None


def wait_until_ready(live: LiveAudience) -> None:
    deadline = time.monotonic() + 1.0
    while live.state is not Readiness.READY:
        assert time.monotonic() < deadline, f"the audience index is still {live.state}"
        time.sleep(0.01)


def test_after_a_reset_at_the_same_url_an_alert_reaches_exactly_the_new_people_inside_its_area(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    create_subscribers(app, [(f"+1312555010{i}", *LOOP) for i in range(3)])
    settings = make_settings(database_url, audience_snapshot_dir=str(tmp_path))
    before = create_app(settings)
    assert count(before) == 3  # the snapshot is written: ids 1-3 in Chicago, up to change 3
    before.extensions["haven.db"].dispose()
    app.extensions["haven.db"].dispose()

    reset(database_url)
    # The same ids and more change numbers than the snapshot holds, far from Chicago.
    create_subscribers(app, [(f"+1217555020{i}", *SPRINGFIELD) for i in range(3)])
    create_subscribers(app, [("+13125550301", *LOOP), ("+13125550302", *LOOP)])
    create_agency(app)
    officers = {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
    }

    after = create_app(settings)  # a process starting now finds the old snapshot file
    approve(after.test_client(), officers)
    assert record_one_job(after)
    assert delivered_phones(after) == ["+13125550301", "+13125550302"]
    assert count(before) == 2  # the process that built the old snapshot rebuilds too


def rewrite_snapshot(path: Path, *, source: str, as_of: str) -> None:
    """Overwrite the snapshot with one that puts subscriber 1 in Chicago."""
    AudienceIndex.build([1], [1], [LOOP[1]], [LOOP[0]], as_of=as_of, source=source).save(path)


def identity(app: Flask) -> str:
    with app.app_context():
        return get_database_identity(get_session())


def test_a_snapshot_from_another_database_is_rebuilt_not_trusted(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    create_subscribers(app, [("+12175550101", *SPRINGFIELD), ("+13125550102", *LOOP)])
    settings = make_settings(database_url, audience_snapshot_dir=str(tmp_path))
    first = create_app(settings)
    assert count(first) == 1
    [path] = tmp_path.glob("audience-*.snapshot")
    rewrite_snapshot(path, source="0" * 32, as_of="2")  # subscriber 1 in Chicago, elsewhere

    assert reached(create_app(settings)) == [2]
    rebuilt = AudienceIndex.open(path)
    assert (rebuilt.source, rebuilt.as_of) == (identity(app), "2")


def test_a_snapshot_past_the_databases_last_change_is_rebuilt_not_caught_up(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    # As after restoring an older backup: the same database id, but fewer changes.
    create_subscribers(app, [("+12175550101", *SPRINGFIELD), ("+13125550102", *LOOP)])
    settings = make_settings(database_url, audience_snapshot_dir=str(tmp_path))
    assert count(create_app(settings)) == 1
    [path] = tmp_path.glob("audience-*.snapshot")
    rewrite_snapshot(path, source=identity(app), as_of="9")

    assert reached(create_app(settings)) == [2]
    assert AudienceIndex.open(path).as_of == "2"


def test_a_worker_claims_no_dispatch_job_until_its_audience_index_is_ready(
    app: Flask, database_url: str, officers: dict[str, str]
) -> None:
    create_subscribers(app, [("+13125550101", *LOOP), ("+12175550102", *SPRINGFIELD)])
    approve(app.test_client(), officers)  # a dispatch job waits in the database
    worker = create_app(make_settings(database_url))  # a worker process, just started
    live: LiveAudience = worker.extensions["haven.audience"]
    assert live.state is Readiness.LOADING

    assert not record_one_job(worker)  # loading starts in the background; nothing claimed
    with worker.app_context():
        states = get_session().scalars(select(DispatchJob.state)).all()
    assert states == ["pending"]

    wait_until_ready(live)
    assert record_one_job(worker)
    assert delivered_phones(worker) == ["+13125550101"]
