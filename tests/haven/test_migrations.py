"""The Alembic migrations build exactly the schema the models declare, on every database.

Each test starts from an empty database, runs `haven db upgrade` as an operator would, and
asks Alembic's autogenerate for the differences between that schema and `Base.metadata`:
a model changed without a migration (or a migration without its model) shows up here.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, text

import alerts.models  # noqa: F401  (every table on Base.metadata)
import takedown.models  # noqa: F401
from haven.cli import main
from haven.db import Base
from haven.settings import Settings


def schema_differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database at `url` match the models."""
    engine = create_engine(Settings(database_url=url).database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences: list[Any] = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    return differences


def test_haven_db_upgrade_builds_exactly_the_models_schema(empty_database_url: str) -> None:
    runner = CliRunner(
        env={"HAVEN_DATABASE_URL": empty_database_url, "HAVEN_AUDIENCE_SNAPSHOT_DIR": ""}
    )
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert schema_differences(empty_database_url) == []


def test_the_comparison_notices_a_table_the_migrations_lack(empty_database_url: str) -> None:
    assert schema_differences(empty_database_url) != []  # nothing migrated: every table missing


def test_0006_merges_duplicate_feedback_keeping_the_latest_report(
    empty_database_url: str,
) -> None:
    from haven.migrate import upgrade

    engine = create_engine(Settings(database_url=empty_database_url).database_url)
    try:
        upgrade(engine, "0005")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO platform (id, name, api_key_hash, stopncii_subscription_key_hash,"
                    " stopncii_fetch_key_hash, created_at, fetched_cursor)"
                    " VALUES (1, 'P', 'a', 'b', 'c', '2026-11-22 12:00:00+00', 7)"
                )
            )
            for hash_id in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO takedown_hash (id, media, algorithm, value, status, cursor,"
                        " changed_at) VALUES (:id, 'video', 'md5', :v, 'active', :id,"
                        " '2026-11-22 12:00:00+00')"
                    ),
                    {"id": hash_id, "v": str(hash_id) * 32},
                )
            rows = [
                (1, "matched", 1, "2026-11-22 12:00:00+00"),
                (1, "not_violating", 4, "2026-11-22 14:00:00+00"),  # the latest
                (1, "removed", 2, "2026-11-22 13:00:00+00"),
                (2, "matched", 1, "2026-11-22 15:00:00+00"),  # a tie: removed settles it
                (2, "removed", 3, "2026-11-22 15:00:00+00"),
            ]
            for hash_id, outcome, count, at in rows:
                connection.execute(
                    text("INSERT INTO takedown_feedback VALUES (1, :h, :o, :c, :at)"),
                    {"h": hash_id, "o": outcome, "c": count, "at": at},
                )
        upgrade(engine)
        with engine.connect() as connection:
            kept = connection.execute(
                text("SELECT hash_id, outcome, count FROM takedown_feedback ORDER BY hash_id")
            ).all()
            cursors = connection.execute(
                text("SELECT fetched_cursor, stopncii_fetched_cursor, sandbox FROM platform")
            ).one()
            superseded = connection.execute(
                text(
                    "SELECT hash_id, outcome, count FROM takedown_feedback_superseded"
                    " ORDER BY hash_id, outcome"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in kept] == [(1, "not_violating", 4), (2, "removed", 3)]
    # Nothing stored is lost: the older reports are kept as they were.
    assert [tuple(r) for r in superseded] == [
        (1, "matched", 1),
        (1, "removed", 2),
        (2, "matched", 1),
    ]
    assert tuple(cursors) == (7, 0, False)
