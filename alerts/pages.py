"""Public alert pages: the active alerts, each alert's details and area, CAP and Atom.

Only Actual alerts that went out are public; drafts, Test and Exercise alerts never are.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, url_for
from shapely.geometry import shape

from alerts import store
from alerts.content import AlertContent
from alerts.models import Alert
from alerts.publish import atom_index, cap_document, child_summary, vehicle_summary
from alerts.service import parse_areas
from alerts.svg import area_svg
from haven.db import get_session, utcnow
from haven.settings import get_settings

bp = Blueprint("alert_pages", __name__)

PUBLIC_STATES = ("active", "cancelled", "expired")


def _public_alert(alert_id: int) -> Alert:
    alert = store.get_alert(session=get_session(), alert_id=alert_id)
    if alert is None or alert.status != "Actual" or alert.state not in PUBLIC_STATES:
        abort(404)
    return alert


@bp.get("/alerts")
def active() -> str:
    """The alerts out now, newest first."""
    session = get_session()
    alerts = store.fetch_active_alerts(session=session, now=utcnow())
    items = []
    for alert in alerts:
        content = AlertContent.from_stored(alert.content)
        items.append(
            {
                "id": alert.id,
                "children": child_summary(content),
                "vehicle": vehicle_summary(content),
                "sent_at": alert.sent_at,
            }
        )
    return render_template("alerts/list.html", alerts=items)


@bp.get("/alerts/<int:alert_id>")
def detail(alert_id: int) -> str:
    """One alert: who is missing, the vehicle, what to do, and the area as a drawing."""
    session = get_session()
    alert = _public_alert(alert_id)
    content = AlertContent.from_stored(alert.content)
    agency = store.get_agency(session=session, agency_id=alert.agency_id).name
    geometries = [a.geometry for a in parse_areas(content.areas)]
    if not geometries:
        geometries = [
            shape(store.get_agency(session=session, agency_id=alert.agency_id).jurisdiction)
        ]
    return render_template(
        "alerts/detail.html",
        alert=alert,
        content=content,
        agency=agency,
        children=child_summary(content),
        vehicle=vehicle_summary(content),
        area_svg=area_svg(geometries, title=child_summary(content)),
    )


@bp.get("/alerts/<int:alert_id>.cap")
def cap(alert_id: int) -> Response:
    """The alert's current version as CAP 1.2."""
    document = cap_document(
        session=get_session(), alert=_public_alert(alert_id), public_url=get_settings().public_url
    )
    return Response(document, mimetype="application/cap+xml")


@bp.get("/alerts/feed.atom")
def feed() -> Response:
    """An Atom index of the active alerts' CAP documents."""
    document = atom_index(session=get_session(), public_url=get_settings().public_url, now=utcnow())
    return Response(document, mimetype="application/atom+xml")


@bp.get("/a/<int:alert_id>")
def short_link(alert_id: int) -> Response:
    """The short link in SMS messages."""
    return redirect(url_for(".detail", alert_id=alert_id), code=302)  # type: ignore[return-value]
