"""Public alert pages: the active alerts, past alerts by month, each alert's details and
area, CAP and Atom, and a page in the reader's language for an alert that is not public.

Only Actual alerts that went out are public; drafts, Test and Exercise alerts never are.
Every recipient of an SMS may open these, so each is rendered once per alert version and
language (and, for the feed, filter) and then served from `alerts.public_cache`; a cached
view reads no area's vertices.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

import phonenumbers
from babel.dates import format_skeleton
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import get_locale
from sqlalchemy.orm import Session

from alerts import store
from alerts.feed import FeedItem, FeedRules, feed_item, parse_feed_filter, render_feed
from alerts.models import Alert
from alerts.photos import ChildPhoto, alert_photos
from alerts.public_cache import RenderCache, alert_key
from alerts.publish import (
    PublicView,
    cap_document,
    child_summary,
    public_area_map,
    public_view,
    vehicle_summary,
)
from alerts.svg import AreaMap
from alerts.timezones import local_time, time_ago
from alerts.views import cap_identifier
from haven.db import get_session, utcnow
from haven.i18n import ALL, current_language, name_in
from haven.languages import LANGUAGES
from haven.settings import get_settings

bp = Blueprint("alert_pages", __name__)

PUBLIC_STATES = ("active", "cancelled", "expired")
ARCHIVE_MAX = 500  # past alerts listed, newest first: years of a state's AMBER alerts
CACHE = "alerts.public_cache"
FEED_RULES = "alerts.feed_rules"


@bp.record_once
def _add_cache(state: BlueprintSetupState) -> None:
    state.app.extensions[CACHE] = RenderCache()
    state.app.extensions[FEED_RULES] = FeedRules.from_settings(
        state.app.extensions["haven.settings"]
    )


def rendered() -> RenderCache:
    """The running app's cache of rendered public output."""
    cache: RenderCache = current_app.extensions[CACHE]
    return cache


def feed_rules() -> FeedRules:
    """The running app's feed rules: how long cancellations stay, and its clock."""
    rules: FeedRules = current_app.extensions[FEED_RULES]
    return rules


def _public_alert(alert_id: int) -> Alert:
    alert = store.get_alert(session=get_session(), alert_id=alert_id, with_content=False)
    if alert is None or alert.status != "Actual" or alert.state not in PUBLIC_STATES:
        abort(404)
    return alert


@bp.get("/alerts")
def active() -> str:
    """The alerts out now, newest first."""
    session = get_session()
    alerts = store.fetch_active_alerts(session=session, now=utcnow(), with_content=False)
    issued = tuple(_maybe_moment(a.sent_at, _view(session, a).timezone) for a in alerts)
    key = ("list", tuple(alert_key(a) for a in alerts), current_language().code, issued)
    return rendered().get(key, lambda: _render_list(session, alerts, issued))


def _render_list(session: Session, alerts: list[Alert], issued: tuple[Moment | None, ...]) -> str:
    items = []
    for alert, when in zip(alerts, issued, strict=True):
        view = _view(session, alert)
        items.append(
            {
                "id": alert.id,
                "children": child_summary(view.content),
                "vehicle": vehicle_summary(view.content),
                "agency": view.agency,
                "issued": when,
            }
        )
    return render_template("alerts/list.html", alerts=items)


@bp.get("/alerts/archive")
def archive() -> str:
    """Alerts that have ended (cancelled or expired), newest first, by the month they went out."""
    session = get_session()
    alerts = store.fetch_past_alerts(session=session, limit=ARCHIVE_MAX, with_content=False)
    key = ("archive", tuple(alert_key(a) for a in alerts), current_language().code)
    return rendered().get(key, lambda: _render_archive(session, alerts))


def _render_archive(session: Session, alerts: list[Alert]) -> str:
    locale = get_locale()
    months: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        view = _view(session, alert)
        sent = alert.sent_at or alert.created_at
        local = sent.astimezone(zoneinfo.ZoneInfo(view.timezone))
        month = format_skeleton("yMMMM", local, locale=locale)
        months.setdefault(month, []).append(
            {
                "id": alert.id,
                "children": child_summary(view.content),
                "count": len(view.content.children),
                "agency": view.agency,
                "issued": local_time(sent, zone=view.timezone, locale=locale),
                "iso": sent.isoformat(),
                "state": alert.state,
                "cancel_reason": alert.cancel_reason,
            }
        )
    return render_template("alerts/archive.html", months=months)


@bp.get("/alerts/<dbid:alert_id>")
def detail(alert_id: int) -> str:
    """One alert: who is missing, the vehicle, what to do, and the area as a drawing."""
    session = get_session()
    alert = _public_alert(alert_id)
    view = _view(session, alert)
    moments = _alert_moments(alert, view)
    # The path too: the language picker's links carry it back. The moments too: "2 hours
    # ago" changes as time passes.
    key = ("page", alert_key(alert), current_language().code, request.path, moments)
    return rendered().get(key, lambda: _render_detail(session, alert, view, moments))


def _render_detail(session: Session, alert: Alert, view: PublicView, moments: AlertMoments) -> str:
    language = current_language()
    children = child_summary(view.content)
    return render_template(
        "alerts/detail.html",
        alert=alert,
        view=view,
        content=view.content,
        agency=view.agency,
        children=children,
        moments=moments,
        suspects=[s for s in view.content.suspects if s.name or s.description],
        own_text=view.content.texts.get(language.code),
        other_texts=_other_texts(view, language.code),
        reference=cap_identifier(alert),
        area_svg=_area_map(session, alert).svg(title=children),
        photos=_photos(session, alert),
    )


@dataclass(frozen=True)
class Moment:
    """A time as a page shows it: ISO 8601 (for <time datetime>), in the alert's time zone
    as the reader's language writes it, and how long ago (None in a language without words
    for that)."""

    iso: str
    local: str
    ago: str | None


@dataclass(frozen=True)
class AlertMoments:
    """The times an alert's page shows."""

    issued: Moment | None
    updated: Moment | None
    ends: Moment  # when it ends, or ended
    cancelled: Moment | None
    last_seen: Moment | None


def _moment(at: datetime.datetime, zone: str) -> Moment:
    locale = get_locale()
    return Moment(
        at.isoformat(),
        local_time(at, zone=zone, locale=locale),
        time_ago(at, now=utcnow(), locale=locale),
    )


def _maybe_moment(at: datetime.datetime | None, zone: str) -> Moment | None:
    return None if at is None else _moment(at, zone)


def _alert_moments(alert: Alert, view: PublicView) -> AlertMoments:
    last_seen = view.content.last_seen
    zone = view.timezone
    return AlertMoments(
        issued=_maybe_moment(alert.sent_at, zone),
        updated=_maybe_moment(view.updated_at, zone),
        ends=_moment(alert.expires, zone),
        cancelled=_maybe_moment(view.cancelled_at, zone),
        last_seen=_maybe_moment(last_seen.at if last_seen else None, zone),
    )


def _other_texts(view: PublicView, reader: str) -> list[dict[str, str]]:
    """The agency's texts in the languages other than the reader's, each named in the
    reader's language, in Haven's language order."""
    locale = get_locale()
    return [
        {
            "code": code,
            "name": name_in(code, locale),
            "direction": ALL[code].direction,
            "text": view.content.texts[code],
        }
        for code in LANGUAGES
        if code != reader and code in view.content.texts
    ]


@bp.app_template_filter("phone_number")
def phone_number(e164: str) -> str:
    """A stored E.164 number as people dial it: (800) 555-1234 in the US and its
    territories, +52 55 1234 5678 elsewhere; as stored if it does not parse."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


@bp.errorhandler(404)
def not_found(_: Exception) -> tuple[str, int]:
    """An alert that does not exist or is not public (a draft, a Test or an Exercise): a page
    in the reader's language that says so and leads to the alerts that are out."""
    return render_template("alerts/not_found.html"), 404


def _area_map(session: Session, alert: Alert) -> AreaMap:
    """The alert version's area map, drawn once for every language."""
    return rendered().get(
        ("map", alert_key(alert)), lambda: public_area_map(session=session, alert=alert)
    )


def _view(session: Session, alert: Alert) -> PublicView:
    """The alert version's content as pages show it, read once for every language."""
    return rendered().get(
        ("view", alert_key(alert)), lambda: public_view(session=session, alert=alert)
    )


@bp.get("/alerts/<dbid:alert_id>.cap")
def cap(alert_id: int) -> Response:
    """The alert's current version as CAP 1.2."""
    alert = _public_alert(alert_id)
    document = rendered().get(
        ("cap", alert_key(alert)),
        lambda: cap_document(
            session=get_session(), alert=alert, public_url=get_settings().public_url
        ),
    )
    return Response(document, mimetype="application/cap+xml")


@bp.get("/alerts/feed.atom")
def feed() -> Response:
    """An Atom index of the alerts out now and of recent cancellations, each linking its CAP;
    `?state=IL` and `?point=lat,lon` keep those reaching that state or covering that point."""
    wanted = parse_feed_filter(request.args)
    rules = feed_rules()
    session, now = get_session(), rules.clock()
    published = store.fetch_feed_alerts(
        session=session, now=now, cancelled_since=now - rules.keep, with_content=False
    )
    chosen = [(row, item) for row in published if wanted.admits(item := _feed_item(session, row))]

    def render() -> bytes:
        return render_feed(
            items=[item for _, item in chosen],
            wanted=wanted,
            public_url=get_settings().public_url,
            now=now,
        )

    # An empty feed is dated now, so it is not kept; it costs nothing to render. Nor is a
    # feed for a point: points are countless, and their feeds would push the pages every
    # SMS recipient opens out of the cache. Its entries come from the cache all the same.
    if not chosen or wanted.point is not None:
        return Response(render(), mimetype="application/atom+xml")
    key = ("atom", wanted.query, tuple(alert_key(row.alert) for row, _ in chosen))
    return Response(rendered().get(key, render), mimetype="application/atom+xml")


def _feed_item(session: Session, row: store.Published) -> FeedItem:
    """The alert version's feed entry and areas, built once for every filter."""

    def build() -> FeedItem:
        agency = store.get_agency(session=session, agency_id=row.alert.agency_id).name
        return feed_item(
            published=row,
            agency=agency,
            public_url=get_settings().public_url,
            photos=_photos(session, row.alert),
        )

    return rendered().get(("feed", alert_key(row.alert)), build)


def _photos(session: Session, alert: Alert) -> tuple[ChildPhoto, ...]:
    """The photos the alert version shows (no bytes), read once for every view."""
    return rendered().get(
        ("photos", alert_key(alert)), lambda: tuple(alert_photos(session=session, alert=alert))
    )


@bp.get("/alerts/<dbid:alert_id>/photos/<name>")
def photo(alert_id: int, name: str) -> Response:
    """A child's photo, Haven's own copy, for as long as the alert's current version shows
    it. Its URL names its SHA-256, so what it serves never changes: anyone may keep it for a
    year, and any site may show it (an AMBER photo is meant to travel)."""
    session = get_session()
    alert = _public_alert(alert_id)
    path = f"/alerts/{alert.id}/photos/{name}"
    shown = next((p for p in _photos(session, alert) if p.path == path), None)
    if shown is None:
        abort(404)
    data = rendered().get(
        ("photo", alert.id, shown.digest),
        lambda: store.get_photo_data(session=session, alert_id=alert.id, digest=shown.digest),
    )
    if data is None:
        abort(404)
    response = Response(data, mimetype=shown.media_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.set_etag(shown.digest)
    response.make_conditional(request)  # 304 for a client that has it
    return response


@bp.get("/a/<dbid:alert_id>")
def short_link(alert_id: int) -> Response:
    """The short link in SMS messages."""
    return redirect(url_for(".detail", alert_id=alert_id), code=302)  # type: ignore[return-value]
