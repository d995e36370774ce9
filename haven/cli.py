"""The `haven` command: serve, run the worker, migrate, and manage platforms."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask

from haven import migrate
from haven.app import create_app
from haven.db import get_session
from haven.errors import HavenError


class _Context:
    """Creates the app once, on first use, so `--help` needs no database."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = create_app()
        return self._app


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


class _Group(click.Group):
    """Turns domain errors into a one-line message and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HavenError as exc:
            raise click.ClickException(exc.message) from exc


@click.group(cls=_Group)
def main() -> None:
    """Haven: AMBER alerts and Take It Down."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per process.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve Haven with gunicorn (and, by default, an in-process background worker)."""
    from haven.server import run

    run(host=host, port=port, workers=workers, threads=threads)


@main.command()
@pass_ctx
def worker(ctx: _Context) -> None:
    """Run the background worker in the foreground until interrupted."""
    from haven.worker import run_forever

    run_forever(ctx.app)


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: _Context) -> None:
    """Apply every pending migration."""
    migrate.upgrade(ctx.app.extensions["haven.db"].engine)
    click.echo("database is up to date")


@main.group()
def platform() -> None:
    """Participating platforms (hash feed consumers)."""


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


@platform.command("add")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def platform_add(ctx: _Context, name: str, as_json: bool) -> None:
    """Register a platform and print its credentials. They are shown only this once."""
    from takedown.service import add_platform

    with ctx.app.app_context():
        credentials = add_platform(session=get_session(), name=name)
    _emit(
        {
            "name": credentials.name,
            "api_key": credentials.api_key,
            "stopncii_subscription_key": credentials.stopncii_subscription_key,
            "stopncii_fetch_function_key": credentials.stopncii_fetch_function_key,
        },
        as_json,
    )
    if not as_json:
        click.echo("Store these now: Haven keeps only their hashes and cannot show them again.")


@platform.command("revoke")
@click.argument("name")
@pass_ctx
def platform_revoke(ctx: _Context, name: str) -> None:
    """Revoke a platform's credentials at once."""
    from takedown.service import revoke_platform

    with ctx.app.app_context():
        revoke_platform(session=get_session(), name=name)
    click.echo(f"revoked {name}")


if __name__ == "__main__":
    main()
