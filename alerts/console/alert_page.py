"""The console's alert page: an alert with its map, audience and per-language preview; the
approver's approve, return and reject; live delivery progress; update and cancel; the audit
trail.

The page's scripts (static/console/alert/) act through the JSON API with the session cookie
and the CSRF token; this module renders the page and previews an update's message, which the
API does not offer before the update is sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import g, render_template, request
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from alerts import service, store
from alerts.console import bp
from alerts.console.json_auth import signed_in_json
from alerts.console.sessions import signed_in
from alerts.content import AlertContent, StoredArea
from alerts.models import Alert, Officer
from alerts.schemas import AlertUpdateIn
from alerts.sms import render_sms, segments
from alerts.views import alert_out, messages_out
from geo.errors import GeoError
from geo.outlines import county_label
from geo.same import lookup_same
from haven.db import get_session
from haven.errors import InvalidInput, NotFound
from haven.languages import LANGUAGES
from haven.settings import get_settings
from haven.web import parse_json

# Outlines are drawn, not measured: about 100 m of detail is plenty on a console map.
_DRAW_TOLERANCE_DEGREES = 0.001


def _alert_of(session: Session, officer: Officer, alert_id: int) -> Alert:
    """The alert, or 404 for one that does not exist or belongs to another agency
    (`service.get_alert`): an officer learns nothing of another agency's alerts from a URL."""
    return service.get_alert(session=session, officer=officer, alert_id=alert_id)


def _label(area: StoredArea) -> str:
    """An area for a person: its description, or what it is ("Cook County, IL")."""
    if area.description:
        return area.description
    if area.same:
        try:
            place = lookup_same(area.same)
        except GeoError:
            return f"SAME {area.same}"
        if place.kind == "state":
            return f"{place.name} (whole state)"
        return f"{county_label(place)}, {place.state}"
    if area.circle:
        point, _, radius = area.circle.strip().partition(" ")
        return f"Circle of {radius} km around {point}"
    if area.polygon:
        return f"Polygon of {len(area.polygon.split()) - 1} points"
    return "GeoJSON area"


def _drawn_areas(alert: Alert) -> list[dict[str, Any]]:
    """Each area as a GeoJSON feature to draw, simplified; unreadable areas are left out."""
    content = AlertContent.from_stored(alert.content)
    features = []
    for number, area in enumerate(content.areas):
        try:
            geometry = service.parse_areas([area])[0].geometry
        except InvalidInput:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"number": number + 1, "label": _label(area)},
                "geometry": mapping(geometry.simplify(_DRAW_TOLERANCE_DEGREES)),
            }
        )
    return features


@bp.get("/alerts/<dbid:alert_id>")
@signed_in
def alert_page(alert_id: int) -> tuple[str, int]:
    """The alert, what the officer may do with it now, and how its delivery goes."""
    session = get_session()
    officer: Officer = g.officer
    try:
        alert = _alert_of(session, officer, alert_id)
    except NotFound:
        return render_template("console/alert.html", alert=None, alert_id=alert_id), 404
    settings = get_settings()
    if settings.map_tiles_url:
        # The base map's images come from the tile server (haven/security.py), as drafting's.
        tiles = urlsplit(settings.map_tiles_url)
        g.csp_img_origins = (f"{tiles.scheme}://{tiles.netloc}",)
    shown = alert_out(session=session, alert=alert)
    page = {
        "alert": shown,
        "review_note": alert.review_note,
        # The API's own answer (service.may_review): under the two-person rule never one's
        # own alert; with the rule off (training only), the API would approve it too.
        "can_approve": service.may_review_alert(
            session=session,
            officer=officer,
            alert=alert,
            rules=service.Rules.from_settings(settings),
        ),
        "areas": {"type": "FeatureCollection", "features": _drawn_areas(alert)},
        "tiles_url": settings.map_tiles_url,
        "tiles_attribution": settings.map_tiles_attribution,
        "messages": messages_out(
            session=session,
            alert=alert,
            public_url=settings.public_url.rstrip("/"),
            budget=settings.sms_segment_budget,
        ),
    }
    return render_template(
        "console/alert.html",
        alert=shown,
        review_note=alert.review_note,
        can_approve=page["can_approve"],
        own=alert.created_by == officer.id,
        page=page,
    ), 200


@bp.post("/alerts/<dbid:alert_id>/update-preview")
@signed_in_json
def update_preview(alert_id: int) -> dict[str, Any]:
    """The update message each language's subscribers would receive for these changes (an
    `AlertUpdateIn` body), rendered as dispatch renders it; `?language=` picks the languages
    (by default English and the alert's text languages). Nothing is stored; an alert that
    can no longer be updated is a 409, as the update would be."""
    session = get_session()
    changes = parse_json(AlertUpdateIn)
    alert, updated = service.preview_update(
        session=session, officer=g.officer, alert_id=alert_id, changes=changes
    )
    settings = get_settings()
    wanted = request.args.getlist("language") or ["en", *alert.content.get("texts", {})]
    languages = [code for code in LANGUAGES if code in wanted]
    agency = store.get_agency(session=session, agency_id=alert.agency_id).name
    messages = []
    for language in languages:
        sms = render_sms(
            alert_content=updated,
            previous_content=alert.content,
            kind="update" if alert.state == "active" else "alert",
            agency=agency,
            language=language,
            link=f"{settings.public_url.rstrip('/')}/a/{alert.id}",
            budget=settings.sms_segment_budget,
        )
        cost = segments(sms)
        messages.append(
            {
                "language": language,
                "sms": sms,
                "characters": len(sms),
                "segments": cost.count,
                "encoding": cost.encoding,
            }
        )
    return {"messages": messages}
