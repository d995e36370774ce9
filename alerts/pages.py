"""Public alert pages: the active alerts, each alert's details and area, CAP and Atom.

Only Actual alerts that went out are public; drafts, Test and Exercise alerts never are.
Every recipient of an SMS may open these, so each is rendered once per alert version and
language and then served from `alerts.public_cache`; a view reads no area's vertices.
"""

from __future__ import annotations

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
from sqlalchemy.orm import Session

from alerts import store
from alerts.models import Alert
from alerts.public_cache import RenderCache, alert_key
from alerts.publish import (
    PublicView,
    atom_index,
    cap_document,
    child_summary,
    public_area_map,
    public_view,
    vehicle_summary,
)
from alerts.svg import AreaMap
from haven.db import get_session, utcnow
from haven.i18n import current_language
from haven.settings import get_settings

bp = Blueprint("alert_pages", __name__)

PUBLIC_STATES = ("active", "cancelled", "expired")
CACHE = "alerts.public_cache"


@bp.record_once
def _add_cache(state: BlueprintSetupState) -> None:
    state.app.extensions[CACHE] = RenderCache()


def rendered() -> RenderCache:
    """The running app's cache of rendered public output."""
    cache: RenderCache = current_app.extensions[CACHE]
    return cache


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
    key = ("list", tuple(alert_key(alert) for alert in alerts), current_language().code)
    return rendered().get(key, lambda: _render_list(session, alerts))


def _render_list(session: Session, alerts: list[Alert]) -> str:
    items = []
    for alert in alerts:
        view = _view(session, alert)
        items.append(
            {
                "id": alert.id,
                "children": child_summary(view.content),
                "vehicle": vehicle_summary(view.content),
                "sent_at": alert.sent_at,
            }
        )
    return render_template("alerts/list.html", alerts=items)


@bp.get("/alerts/<dbid:alert_id>")
def detail(alert_id: int) -> str:
    """One alert: who is missing, the vehicle, what to do, and the area as a drawing."""
    session = get_session()
    alert = _public_alert(alert_id)
    # The path too: the language picker's links carry it back.
    key = ("page", alert_key(alert), current_language().code, request.path)
    return rendered().get(key, lambda: _render_detail(session, alert))


def _render_detail(session: Session, alert: Alert) -> str:
    view = _view(session, alert)
    children = child_summary(view.content)
    return render_template(
        "alerts/detail.html",
        alert=alert,
        content=view.content,
        area_descriptions=view.area_descriptions,
        agency=view.agency,
        children=children,
        vehicle=vehicle_summary(view.content),
        area_svg=_area_map(session, alert).svg(title=children),
    )


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
    """An Atom index of the active alerts' CAP documents."""
    session, now = get_session(), utcnow()
    alerts = store.fetch_active_alerts(session=session, now=now, with_content=False)

    def render() -> bytes:
        return atom_index(session=session, public_url=get_settings().public_url, now=now)

    # An empty feed is dated now, so it is not kept; it costs nothing to render.
    if not alerts:
        return Response(render(), mimetype="application/atom+xml")
    document = rendered().get(("atom", tuple(alert_key(alert) for alert in alerts)), render)
    return Response(document, mimetype="application/atom+xml")


@bp.get("/a/<dbid:alert_id>")
def short_link(alert_id: int) -> Response:
    """The short link in SMS messages."""
    return redirect(url_for(".detail", alert_id=alert_id), code=302)  # type: ignore[return-value]
