"""Shared fixtures: every app-level test runs on SQLite and, when configured, PostgreSQL.

PostgreSQL, Redis and the browser are optional on a developer's machine (their tests skip
with a reason) but required under CI=true, where a missing one fails the run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import BaseWSGIServer, make_server

import alerts.models  # noqa: F401  (every table on Base.metadata)
import takedown.models  # noqa: F401
from haven.app import create_app
from haven.db import Base, Database
from haven.migrate import upgrade
from haven.settings import Settings

pytest_plugins = ["tests.factories", "tests.browser", "tests.fakes.fixtures"]

CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("HAVEN_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("HAVEN_TEST_REDIS_URL", "")


def require(component: str, reason: str) -> None:
    """Skip for want of `component`, or fail loudly under CI where it is required."""
    if CI:
        pytest.fail(f"{component} is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"{component} not available: {reason}")


@contextlib.contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database named `prefix`_..., dropped afterwards."""
    if not POSTGRES_URL:
        require("PostgreSQL", "set HAVEN_TEST_POSTGRES_URL to an admin URL")
    admin_url = Settings(database_url=POSTGRES_URL).database_url
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        require("PostgreSQL", f"cannot create a database at {admin_url}: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this run's own, migrated, dropped at the end."""
    with new_postgres_database("haven_test") as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_database() -> Iterator[str]:
    """A migrated SQLite database file of this run's own."""
    with tempfile.TemporaryDirectory(prefix="haven-test-") as folder:
        url = f"sqlite:///{Path(folder) / 'haven.db'}"
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each app-level test runs once per database, starting empty.

    SQLite tests get a fresh copy of the migrated file; PostgreSQL tests share the run's
    database, emptied before each test.
    """
    url: str = request.getfixturevalue(f"{request.param}_database")
    if request.param == "sqlite":
        copy = tmp_path / "haven.db"
        shutil.copyfile(make_url(url).database or "", copy)
        return f"sqlite:///{copy}"
    return url


def _empty_all_tables(database: Database) -> None:
    if not database.is_postgres:
        return  # a fresh copy already
    # TRUNCATE fires no row triggers, so the append-only audit trail can be emptied here.
    kept = ("haven_counter", "haven_instance")
    tables = [t for t in Base.metadata.sorted_tables if t.name not in kept]
    with database.engine.begin() as connection:
        names = ", ".join(f'"{t.name}"' for t in tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("UPDATE haven_counter SET value = 0"))
        # An emptied database is a new one: it gets a new identity, as a reset would.
        connection.execute(text("UPDATE haven_instance SET id = :id"), {"id": uuid.uuid4().hex})


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test app."""
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": "test-secret",
        "log_level": "INFO",
        "case_submit_rate": "10000/minute",
        "case_lookup_rate": "10000/minute",
        "audience_snapshot_dir": None,  # tests that share a snapshot set a folder of their own
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
def app(database_url: str, settings_overrides: dict[str, object]) -> Iterator[Flask]:
    """A Haven app on an empty database."""
    app = create_app(make_settings(database_url, **settings_overrides))
    app.config["TESTING"] = True
    database: Database = app.extensions["haven.db"]
    _empty_all_tables(database)
    yield app
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on loopback; yields its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis URL (required under CI)."""
    import redis

    url = REDIS_URL or ("redis://127.0.0.1:6379/0" if CI else "")
    if not url:
        require("Redis", "set HAVEN_TEST_REDIS_URL")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        require("Redis", f"cannot reach {url}: {exc}")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of this test's own (a SQLite file, or a new PostgreSQL database)."""
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory(prefix="haven-migrations-") as folder:
            yield f"sqlite:///{Path(folder) / 'haven.db'}"
        return
    with new_postgres_database("haven_migrations") as url:
        yield url
