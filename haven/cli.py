"""The `haven` command: serve, run the worker, migrate, and manage platforms."""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, Any, TextIO

import click
from flask import Flask
from pydantic import ValidationError

from haven import migrate
from haven.app import create_app
from haven.db import get_session
from haven.errors import HavenError
from haven.settings import Settings, describe_errors

if TYPE_CHECKING:
    from takedown.service import PlatformCredentials


def load_settings() -> Settings:
    """Settings from the environment, or a one-line-per-problem error naming each variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(describe_errors(exc))
        raise click.ClickException(f"invalid settings, not starting:\n{problems}") from None


class _Context:
    """Creates the app once, on first use, so `--help` needs no database."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = create_app(load_settings())
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

    # Validated here, in the arbiter, so a bad setting stops the server before any worker boots.
    settings = load_settings()
    if workers > 1 and not settings.redis_url:
        # Memory counters are per process: N workers would allow N times every rate limit and
        # N times the wrong PINs before a case locks.
        raise click.ClickException(
            f"--workers {workers} needs HAVEN_REDIS_URL: without Redis each process keeps its "
            "own rate-limit and PIN counters, multiplying every limit; set HAVEN_REDIS_URL or "
            "serve with --workers 1"
        )
    run(settings=settings, host=host, port=port, workers=workers, threads=threads)


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


def _emit_credentials(credentials: PlatformCredentials, as_json: bool) -> None:
    data: dict[str, Any] = {
        "name": credentials.name,
        "api_key": credentials.api_key,
        "stopncii_subscription_key": credentials.stopncii_subscription_key,
        "stopncii_fetch_function_key": credentials.stopncii_fetch_function_key,
    }
    if credentials.sandbox:
        data["sandbox"] = True
        data["feed"] = "/api/v1/sandbox/feed"
        data["stopncii"] = "/stopncii/sandbox/v1"
    if credentials.previous_keys_expire is not None:
        data["previous_keys_expire"] = _iso(credentials.previous_keys_expire)
    _emit(data, as_json)
    if not as_json:
        click.echo("Store these now: Haven keeps only their hashes and cannot show them again.")


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


@platform.command("add")
@click.argument("name")
@click.option("--sandbox", is_flag=True, help="Credentials for the sandbox feeds only.")
@click.option(
    "--public-name",
    help="List it on the families' page (/takedown/platforms) under this name. "
    "Default: not listed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def platform_add(
    ctx: _Context, name: str, sandbox: bool, public_name: str | None, as_json: bool
) -> None:
    """Register a platform and print its credentials. They are shown only this once."""
    from takedown.service import add_platform

    with ctx.app.app_context():
        credentials = add_platform(
            session=get_session(), name=name, sandbox=sandbox, public_name=public_name
        )
    _emit_credentials(credentials, as_json)


@platform.command("public-name")
@click.argument("name")
@click.argument("public_name", required=False)
@click.option("--clear", is_flag=True, help="Take it off the families' page.")
@pass_ctx
def platform_public_name(ctx: _Context, name: str, public_name: str | None, clear: bool) -> None:
    """List platform NAME on the families' page as PUBLIC_NAME, or (--clear) stop listing it."""
    from takedown.service import set_platform_public_name

    if (public_name is None) != clear:
        raise click.UsageError("Give exactly one of PUBLIC_NAME or --clear.")
    with ctx.app.app_context():
        set_platform_public_name(session=get_session(), name=name, public_name=public_name)
    if public_name is None:
        click.echo(f"{name} is no longer listed on /takedown/platforms")
    else:
        click.echo(f"{name} is listed on /takedown/platforms as {' '.join(public_name.split())!r}")


@platform.command("rotate")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def platform_rotate(ctx: _Context, name: str, as_json: bool) -> None:
    """Print new credentials; the current ones keep working for HAVEN_PLATFORM_KEY_GRACE_HOURS."""
    from takedown.service import rotate_platform

    with ctx.app.app_context():
        hours = ctx.app.extensions["haven.settings"].platform_key_grace_hours
        credentials = rotate_platform(
            session=get_session(), name=name, grace=datetime.timedelta(hours=hours)
        )
    _emit_credentials(credentials, as_json)


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_ctx
def platform_list(ctx: _Context, as_json: bool) -> None:
    """Each platform's last poll, protocol, cursor lag and feedback counts."""
    from takedown.service import list_platforms

    with ctx.app.app_context():
        summaries = list_platforms(session=get_session())
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        {
            "name": p.name,
            "sandbox": p.sandbox,
            "revoked": p.revoked,
            "last_poll": _iso(p.last_poll),
            "protocol": p.protocol,
            "lag_changes": p.lag_changes,
            "lag_oldest": _iso(p.lag_oldest),
            "lag_oldest_age_seconds": (
                int((now - p.lag_oldest).total_seconds()) if p.lag_oldest else None
            ),
            "previous_keys_expire": _iso(p.previous_keys_expire),
            "feedback": p.feedback,
            "public_name": p.public_name,
        }
        for p in summaries
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    header = ("NAME", "KIND", "LAST POLL", "PROTOCOL", "LAG", "OLDEST UNFETCHED", "FEEDBACK")
    table = [header]
    for p in summaries:
        kind = "revoked" if p.revoked else ("sandbox" if p.sandbox else "real")
        oldest = _age(now - p.lag_oldest) if p.lag_oldest is not None else "-"
        feedback = ", ".join(f"{k} {v}" for k, v in sorted(p.feedback.items()))
        table.append(
            (
                p.name,
                kind,
                _iso(p.last_poll) or "never",
                p.protocol,
                str(p.lag_changes),
                oldest,
                feedback or "-",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _age(elapsed: datetime.timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


@platform.command("sandbox-hashes")
@click.option("--count", default=100, show_default=True, type=int, help="Images and videos.")
@pass_ctx
def platform_sandbox_hashes(ctx: _Context, count: int) -> None:
    """Add synthetic hashes to the sandbox feed: COUNT images (PDQ, MD5) and COUNT videos (MD5)."""
    from takedown.service import add_sandbox_hashes

    with ctx.app.app_context():
        made = add_sandbox_hashes(session=get_session(), count=count)
    click.echo(
        f"added {len(made.keys)} sandbox hashes from {count} synthetic images and {count} "
        f"synthetic videos (each image's own PDQ); they are served only on the sandbox feeds"
    )


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
@click.option(
    "--timezone",
    help="The IANA time zone its alert pages show times in, e.g. America/Chicago "
    "(default: the zone at the jurisdiction).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def agency_add(
    ctx: _Context,
    name: str,
    jurisdiction: str | None,
    area: TextIO | None,
    timezone: str | None,
    as_json: bool,
) -> None:
    """Register an agency, the area it may alert and the time zone of its alert pages."""
    from alerts.service import add_agency

    if (jurisdiction is None) == (area is None):
        raise click.UsageError("Give exactly one of --jurisdiction or --area.")
    try:
        shape = json.load(area) if area else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--area") from exc
    codes = [c.strip() for c in jurisdiction.split(",") if c.strip()] if jurisdiction else None
    with ctx.app.app_context():
        created = add_agency(
            session=get_session(), name=name, same_codes=codes, area=shape, timezone=timezone
        )
    _emit(
        {
            "id": created.id,
            "name": created.name,
            "jurisdiction": created.jurisdiction_codes,
            "timezone": created.timezone,
        },
        as_json,
    )


@main.group()
def distributor() -> None:
    """Secondary distributors (apps, signs, broadcasters) that Haven pushes CAP to."""


@distributor.command("add")
@click.argument("name")
@click.option("--url", required=True, help="Where Haven POSTs each CAP message (https://).")
@click.option(
    "--same",
    "same_codes",
    multiple=True,
    metavar="CODE",
    help="A SAME code of its area (repeat, or separate with commas; ss000 is a whole state).",
)
@click.option("--area", type=click.File("r"), help="A GeoJSON file with its area.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def distributor_add(
    ctx: _Context,
    name: str,
    url: str,
    same_codes: tuple[str, ...],
    area: TextIO | None,
    as_json: bool,
) -> None:
    """Register a receiver of CAP pushes for alerts in its area (without --same or --area:
    every alert) and print its signing secret. It is shown only this once."""
    from alerts.distributors.service import add_distributor
    from alerts.subscriptions.channels import UrlPolicy

    codes = [c.strip() for value in same_codes for c in value.split(",") if c.strip()]
    if codes and area is not None:
        raise click.UsageError("Give at most one of --same or --area.")
    try:
        shape = json.load(area) if area else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--area") from exc
    with ctx.app.app_context():
        created, secret = add_distributor(
            session=get_session(),
            name=name,
            url=url,
            policy=UrlPolicy.from_settings(ctx.app.extensions["haven.settings"]),
            same_codes=codes or None,
            area=shape,
        )
    kind = "everywhere" if created.area is None else ("same" if created.area_codes else "geojson")
    _emit(
        {
            "id": created.id,
            "name": created.name,
            "url": created.url,
            "area": kind,
            "same": created.area_codes,
            "secret": secret,
        },
        as_json,
    )
    if not as_json:
        click.echo("Store the secret now: it signs every push and is not shown again.")


@distributor.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_ctx
def distributor_list(ctx: _Context, as_json: bool) -> None:
    """Each distributor's last successful and failed push, and its pushes still to make."""
    from alerts.distributors.service import list_distributors

    with ctx.app.app_context():
        summaries = list_distributors(session=get_session())
    if as_json:
        rows = [
            {
                "name": d.name,
                "url": d.url,
                "area": d.area,
                "same": list(d.same),
                "removed": d.removed,
                "last_success": _iso(d.last_success),
                "last_failure": _iso(d.last_failure),
                "last_error": d.last_error,
                "pending": d.pending,
            }
            for d in summaries
        ]
        click.echo(json.dumps(rows))
        return
    header = ("NAME", "URL", "AREA", "PENDING", "LAST SUCCESS", "LAST FAILURE", "LAST ERROR")
    table = [header]
    for d in summaries:
        area = ",".join(d.same) if d.area == "same" else d.area
        table.append(
            (
                d.name + (" (removed)" if d.removed else ""),
                d.url,
                area,
                str(d.pending),
                _iso(d.last_success) or "never",
                _iso(d.last_failure) or "never",
                d.last_error or "-",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@distributor.command("remove")
@click.argument("name")
@pass_ctx
def distributor_remove(ctx: _Context, name: str) -> None:
    """Stop pushing to a distributor at once (its pushes still to make are dropped)."""
    from alerts.distributors.service import remove_distributor

    with ctx.app.app_context():
        dropped = remove_distributor(session=get_session(), name=name)
    click.echo(f"removed {name}; {dropped} pushes still to make were dropped")


@main.group()
def officer() -> None:
    """Officers who issue and approve alerts."""


@officer.command("add")
@click.argument("agency_name", metavar="AGENCY")
@click.argument("name")
@click.option("--approver", is_flag=True, help="May approve other officers' alerts.")
@click.option(
    "--notify",
    "notify_to",
    metavar="TARGET",
    help="Apprise URL or phone number told of alerts waiting for approval.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def officer_add(
    ctx: _Context,
    agency_name: str,
    name: str,
    approver: bool,
    notify_to: str | None,
    as_json: bool,
) -> None:
    """Register an officer; print the API key and a one-time console enrolment link. Both
    are shown only this once."""
    from alerts.service import add_officer, issue_enrolment
    from haven.settings import get_settings

    with ctx.app.app_context():
        settings = get_settings()
        created, api_key = add_officer(
            session=get_session(),
            agency_name=agency_name,
            name=name,
            approver=approver,
            notify_to=notify_to,
        )
        token = issue_enrolment(
            session=get_session(),
            agency_name=agency_name,
            name=name,
            hours=settings.console_enrolment_hours,
        )
        data: dict[str, Any] = {
            "id": created.id,
            "agency": agency_name,
            "name": name,
            "approver": approver,
            "api_key": api_key,
            "enrolment_link": _enrolment_link(settings.public_url, token),
            "enrolment_expires": _iso(created.enrolment_expires),
        }
        if created.notify_to:
            data["notify"] = created.notify_to
    _emit(data, as_json)


def _enrolment_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/console/enrol/{token}"


@officer.command("reset")
@click.argument("agency_name", metavar="AGENCY")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def officer_reset(ctx: _Context, agency_name: str, name: str, as_json: bool) -> None:
    """End an officer's console sessions, remove their password and second factors, and print
    a new one-time enrolment link. Their API key keeps working."""
    from alerts.service import issue_enrolment
    from haven.settings import get_settings

    with ctx.app.app_context():
        settings = get_settings()
        token = issue_enrolment(
            session=get_session(),
            agency_name=agency_name,
            name=name,
            hours=settings.console_enrolment_hours,
            reset=True,
        )
        link = _enrolment_link(settings.public_url, token)
    _emit({"agency": agency_name, "name": name, "enrolment_link": link}, as_json)


@officer.command("revoke")
@click.argument("agency_name", metavar="AGENCY")
@click.argument("name")
@pass_ctx
def officer_revoke(ctx: _Context, agency_name: str, name: str) -> None:
    """Revoke an officer at once: the API key, every console session and any enrolment link."""
    from alerts.service import revoke_officer

    with ctx.app.app_context():
        ended = revoke_officer(session=get_session(), agency_name=agency_name, name=name)
    click.echo(f"revoked {name} of {agency_name}; {ended} console sessions ended")


@officer.command("notify")
@click.argument("agency_name", metavar="AGENCY")
@click.argument("name")
@click.argument("target", required=False)
@click.option("--clear", is_flag=True, help="Stop telling this officer of alerts to approve.")
@pass_ctx
def officer_notify(
    ctx: _Context, agency_name: str, name: str, target: str | None, clear: bool
) -> None:
    """Set where an officer is told of alerts waiting for approval: an Apprise URL or a phone
    number (TARGET), or --clear."""
    from alerts.service import set_officer_notify

    if clear == (target is not None):
        raise click.UsageError("Give either a TARGET or --clear.")
    with ctx.app.app_context():
        changed = set_officer_notify(
            session=get_session(), agency_name=agency_name, name=name, target=target
        )
        notify = changed.notify_to
    click.echo(
        f"{name} of {agency_name}: " + (f"notified at {notify}" if notify else "not notified")
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
