"""Console pages: the officer's home (their alerts and the approval queue), drafting, and
the alert page."""

from __future__ import annotations

import datetime
from typing import Any

from flask import g, render_template

from alerts import service
from alerts.console import bp
from alerts.console.sessions import signed_in
from alerts.models import Officer
from alerts.views import alert_list_out
from haven.db import get_session, utcnow
from haven.settings import get_settings

# Each group shows at most this many alerts; older ones are in GET /api/v1/alerts.
GROUP_LIMIT = 50
ENDED = ("cancelled", "expired", "rejected")


def _summaries(
    officer: Officer,
    states: list[str],
    limit: int = GROUP_LIMIT,
    *,
    created_by: int | None = None,
) -> list[Any]:
    """The agency's alerts in `states` (by `created_by` when given), newest first, as the
    API lists them."""
    page = service.list_alerts(
        session=get_session(),
        officer=officer,
        states=states,
        limit=limit,
        cursor=None,
        rules=service.Rules.from_settings(get_settings()),
        created_by=created_by,
    )
    alerts: list[Any] = alert_list_out(page=page)["alerts"]
    return alerts


def _queue(officer: Officer) -> list[Any]:
    """The pending alerts `officer` may approve (`service.may_review`), oldest first (whoever
    has waited longest is approved first), at most GROUP_LIMIT of them."""
    queue: list[Any] = []
    cursor: str | None = None
    while True:
        page = service.list_alerts(
            session=get_session(),
            officer=officer,
            states=["pending"],
            limit=GROUP_LIMIT,
            cursor=cursor,
            rules=service.Rules.from_settings(get_settings()),
            oldest_first=True,
        )
        listed = alert_list_out(page=page)["alerts"]
        queue += [alert for alert in listed if alert["can_approve"]]
        cursor = page.next_cursor
        if len(queue) >= GROUP_LIMIT or cursor is None:
            return queue[:GROUP_LIMIT]


def waited(since: str | None, now: datetime.datetime) -> str:
    """How long an alert has waited for approval, for a person: "4 min", "2 h 5 min"."""
    if since is None:
        return ""
    minutes = max(0, int((now - datetime.datetime.fromisoformat(since)).total_seconds() // 60))
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


@bp.get("/")
@signed_in
def home() -> str:
    """The officer's alerts by state, and for approvers first the alerts waiting for them."""
    officer: Officer = g.officer
    now = utcnow()
    drafts = _summaries(officer, ["draft"], created_by=officer.id)
    pending = _summaries(officer, ["pending"])
    queue = _queue(officer) if officer.is_approver else []
    for alert in queue:
        alert["waited"] = waited(alert["submitted_at"], now)
    groups = [
        ("returned", "Returned to you", [a for a in drafts if a["review_note"]]),
        ("drafts", "Drafts", [a for a in drafts if not a["review_note"]]),
        ("pending", "Waiting for approval", pending),
        ("active", "Active", _summaries(officer, ["active"])),
        ("ended", "Ended", _summaries(officer, list(ENDED), limit=20)),
    ]
    return render_template(
        "console/home.html",
        officer=officer,
        queue=queue if officer.is_approver else None,
        groups=groups,
    )
