"""The database engine, the per-request session, and the one place where commits happen."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str) -> Engine:
    """Create an engine, with SQLite set up for a concurrent web server."""
    if not url.startswith("sqlite"):
        # hide_parameters: an error's text must never carry a case number or a PIN hash.
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own BEGIN is deferred; we issue our own so writers can take the lock first.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes SQLite's write lock at BEGIN, so its reads and writes see one state
        # and commits happen in the order the locks were taken.
        mode = connection.get_execution_options().get("haven_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")

    return engine


class Database:
    """An engine and its session factory, bound to one app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        """Whether the engine speaks to PostgreSQL."""
        return self.engine.dialect.name == "postgresql"

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextlib.contextmanager
def write(session: Session) -> Iterator[Session]:
    """Run a block as one write transaction: commit at the end, or roll back on any error.

    This is the only place Haven commits. Any read transaction already open on the session is
    ended first, so the write begins fresh (and on SQLite, with the write lock held).
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={"haven_write": True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def init_app(app: Flask, database: Database) -> None:
    """Bind a database to the app: a session per request, closed at teardown."""
    app.extensions["haven.db"] = database
    app.teardown_appcontext(_close_session)


def get_database() -> Database:
    """The current app's database."""
    database: Database = current_app.extensions["haven.db"]
    return database


def get_session() -> Session:
    """The session of the current request, opened on first use."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(datetime.UTC)

    def process_result_value(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=datetime.UTC)


# Identity columns that are SQLite rowid aliases there and BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime.datetime:
    """The current time in UTC."""
    return datetime.datetime.now(datetime.UTC)


def this_hour() -> datetime.datetime:
    """The current time truncated to the hour: the finest time anonymous data may carry."""
    return utcnow().replace(minute=0, second=0, microsecond=0)


class Counter(Base):
    """Named counters handing out numbers in commit order (see `take_numbers`)."""

    __tablename__ = "haven_counter"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def take_numbers(session: Session, name: str, count: int = 1) -> range:
    """Reserve `count` consecutive numbers from counter `name`, inside a write transaction.

    The counter's row stays locked until the transaction ends, so numbers become visible in
    the order they were taken: a reader that has seen number N will never later find a new
    row numbered below N. That is what lets a poller catch up exactly by number.
    """
    statement = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + count)
        .returning(Counter.value)
    )
    last = session.execute(statement).scalar_one_or_none()
    if last is None:
        raise RuntimeError(f"counter {name!r} does not exist; is the database migrated?")
    return range(last - count + 1, last + 1)


class Instance(Base):
    """The one row naming this database: a random id written by migration 0004.

    A database reset or created afresh at the same URL gets a new id, so caches built from
    the database (the shared audience snapshot) can tell whether they belong to it.
    """

    __tablename__ = "haven_instance"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


def get_database_identity(session: Session) -> str:
    """This database's random id, or "" when it has none (not migrated to 0004): a cache
    must then trust nothing it did not build from this database itself."""
    return session.scalar(select(Instance.id).order_by(Instance.id).limit(1)) or ""


def among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values` as one parameter, for thousands of values (an import, a chunk of an
    alert's audience): an array on PostgreSQL, a JSON list read by json_each on SQLite. An
    expanding IN would compile and bind one parameter per value."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    listed = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(listed.c.value))


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT of the session's dialect, for its ON CONFLICT clauses."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
