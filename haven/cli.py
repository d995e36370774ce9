"""The `haven` command: serve, run the worker, migrate, and manage platforms."""

from __future__ import annotations

import json
from typing import Any, TextIO

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
@click.option("--concurrency", default=8, show_default=True, help="Celery worker threads.")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run the once-a-second tick (run it in exactly one worker).",
)
@pass_ctx
def worker(ctx: _Context, concurrency: int, beat: bool) -> None:
    """Run the background worker in the foreground: Celery when HAVEN_BROKER_URL is set."""
    from haven.worker import run_worker

    run_worker(ctx.app, concurrency=concurrency, beat=beat)


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


@main.group()
def agency() -> None:
    """Agencies that issue alerts."""


@agency.command("add")
@click.argument("name")
@click.option("--jurisdiction", help="SAME codes, comma-separated (ss000 is a whole state).")
@click.option("--area", type=click.File("r"), help="A GeoJSON file with the jurisdiction.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def agency_add(
    ctx: _Context, name: str, jurisdiction: str | None, area: TextIO | None, as_json: bool
) -> None:
    """Register an agency and the area it may alert."""
    from alerts.service import add_agency

    if (jurisdiction is None) == (area is None):
        raise click.UsageError("Give exactly one of --jurisdiction or --area.")
    try:
        shape = json.load(area) if area else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--area") from exc
    codes = [c.strip() for c in jurisdiction.split(",") if c.strip()] if jurisdiction else None
    with ctx.app.app_context():
        created = add_agency(session=get_session(), name=name, same_codes=codes, area=shape)
    _emit(
        {"id": created.id, "name": created.name, "jurisdiction": created.jurisdiction_codes},
        as_json,
    )


@main.group()
def officer() -> None:
    """Officers who issue and approve alerts."""


@officer.command("add")
@click.argument("agency_name", metavar="AGENCY")
@click.argument("name")
@click.option("--approver", is_flag=True, help="May approve other officers' alerts.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def officer_add(ctx: _Context, agency_name: str, name: str, approver: bool, as_json: bool) -> None:
    """Register an officer and print the API key. It is shown only this once."""
    from alerts.service import add_officer

    with ctx.app.app_context():
        created, api_key = add_officer(
            session=get_session(), agency_name=agency_name, name=name, approver=approver
        )
    _emit(
        {
            "id": created.id,
            "agency": agency_name,
            "name": name,
            "approver": approver,
            "api_key": api_key,
        },
        as_json,
    )


@main.group()
def subscribers() -> None:
    """Alert subscribers."""


@subscribers.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@pass_ctx
def subscribers_import(ctx: _Context, source: TextIO) -> None:
    """Load subscribers from CSV: phone, language, and zip or lat,lon (one location a row).

    Bad rows are reported by line number and skipped; the rest are stored.
    """
    from alerts.subscribers import import_subscribers

    with ctx.app.app_context():
        try:
            report = import_subscribers(session=get_session(), source=source)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    for line, problem in report.errors:
        click.echo(f"line {line}: {problem}", err=True)
    click.echo(
        f"read {report.rows} rows: {report.subscribers} new subscribers, "
        f"{report.locations} locations, {len(report.errors)} rows skipped"
    )


@subscribers.command("tester")
@click.argument("phone")
@click.option("--off", is_flag=True, help="Stop sending Test and Exercise alerts to them.")
@pass_ctx
def subscribers_tester(ctx: _Context, phone: str, off: bool) -> None:
    """Mark a subscriber as a tester: Test and Exercise alerts reach only testers."""
    from alerts.subscribers import set_tester

    with ctx.app.app_context():
        subscriber = set_tester(session=get_session(), phone=phone, tester=not off)
    click.echo(f"{subscriber.phone} is {'no longer ' if off else ''}a tester")


if __name__ == "__main__":
    main()
