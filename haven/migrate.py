"""Alembic, driven from code: the migrations live in `migrations/` at the project root."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from haven.settings import PROJECT_ROOT


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that migrates `engine`."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision`."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(engine), revision)
