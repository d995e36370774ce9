"""The drafting form: a new alert at /console/alerts/new, and a draft (or an alert returned to
draft, with the approver's note on top) at /console/alerts/<id>/edit.

The pages only lay out the form. Their scripts (static/console/draft/) check, preview, count,
save and submit through the JSON API, so that the console and machine clients share one set
of rules and messages.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from alerts import service, store
from alerts.console import bp
from alerts.console.sessions import signed_in
from alerts.views import alert_out
from haven.db import get_session
from haven.errors import NotFound
from haven.languages import LANGUAGES
from haven.settings import get_settings

# Expiry offered for a new alert, in hours (an AMBER alert is usually reissued within hours).
DEFAULT_EXPIRY_HOURS = 6


def _map_config() -> dict[str, object]:
    """The map's settings for the page's scripts; a tile server's origin may serve images."""
    settings = get_settings()
    tiles = settings.map_tiles_url
    if tiles:
        parts = urlsplit(tiles)
        g.csp_img_origins = (f"{parts.scheme}://{parts.netloc}",)
    return {"tiles": tiles, "attribution": settings.map_tiles_attribution}


def _page(alert: dict[str, object] | None) -> str:
    return render_template(
        "console/draft.html",
        officer=g.officer,
        alert=alert,
        languages_for_texts=LANGUAGES,
        config={
            "alert": alert,
            # The agency's own counties and states come first in the typeahead.
            "jurisdiction": store.get_agency(
                session=get_session(), agency_id=g.officer.agency_id
            ).jurisdiction_codes,
            "map": _map_config(),
            "max_hours": get_settings().alert_max_hours,
            "default_expiry_hours": min(DEFAULT_EXPIRY_HOURS, get_settings().alert_max_hours),
        },
    )


@bp.get("/alerts/new")
@signed_in
def new_alert() -> str:
    """An empty drafting form."""
    return _page(None)


@bp.get("/alerts/<dbid:alert_id>/edit")
@signed_in
def edit_alert(alert_id: int) -> str | BaseResponse:
    """A draft in the drafting form; an alert past drafting goes to its own page."""
    session = get_session()
    try:
        alert = service.get_alert(session=session, officer=g.officer, alert_id=alert_id)
    except NotFound:
        # Another agency's alert is not shown to exist either (service.get_alert).
        abort(404)
    if alert.state != "draft":
        return redirect(url_for("console.alert_page", alert_id=alert.id))
    return _page(alert_out(session=session, alert=alert))
