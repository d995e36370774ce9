"""Alembic environment: migrates the engine Haven hands over (see haven/migrate.py)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

import alerts.models  # noqa: F401  (registers the tables on Base.metadata)
import takedown.models  # noqa: F401
from haven.db import Base, UTCDateTime
from haven.settings import Settings

target_metadata = Base.metadata
config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Haven's UTCDateTime is stored as a plain timezone-aware timestamp.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    """Run every pending migration in one transaction per migration."""
    engine = config.attributes.get("engine") or create_engine(Settings().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
