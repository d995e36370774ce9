"""Alerts as the API shows them: identifiers and JSON shapes built from stored rows.

Stored content is read through `AlertContent.from_stored` and never re-validated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from alerts import store
from alerts.content import AlertContent
from alerts.models import Alert
from alerts.photos import PhotoOutcome
from alerts.schemas import (
    AlertContentOut,
    AlertListOut,
    AlertOut,
    AlertSummaryOut,
    AudienceOut,
    AuditEntryOut,
    AuditOut,
    LanguageMessageOut,
    OfficerRefOut,
    PhotoOut,
)
from alerts.sms import render_channel, render_sms, segments
from haven.languages import LANGUAGES

if TYPE_CHECKING:
    from alerts.service import AlertPage


def cap_identifier(alert: Alert, version: int | None = None) -> str:
    """The CAP identifier of an alert version: unique, with no spaces, commas, < or &."""
    return f"haven-alert-{alert.id}-v{alert.version if version is None else version}"


def msg_type(alert: Alert) -> str:
    """The CAP message type of the alert's current version."""
    if alert.state == "cancelled" and alert.version > 1:
        return "Cancel"
    return "Update" if alert.version > 1 else "Alert"


def alert_out(*, session: Session, alert: Alert) -> dict[str, Any]:
    """An alert as JSON."""
    agency = store.get_agency(session=session, agency_id=alert.agency_id)
    return AlertOut(
        id=alert.id,
        identifier=cap_identifier(alert),
        agency=agency.name,
        status=alert.status,
        state=alert.state,
        revision=alert.revision,
        version=alert.version,
        msg_type=msg_type(alert),
        created_at=alert.created_at,
        sent_at=alert.sent_at,
        expires=alert.expires,
        cancel_reason=alert.cancel_reason,
        review_note=alert.review_note,
        audience=AudienceOut.model_validate(alert.audience) if alert.audience else None,
        content=AlertContentOut.model_validate(AlertContent.from_stored(alert.content)),
    ).model_dump(mode="json")


def headline(alert: Alert) -> str:
    """A short title for lists and notices: "AMBER Alert: " and the children's names (the
    console is in English)."""
    names = [child.name for child in AlertContent.from_stored(alert.content).children]
    title = "AMBER Alert: " + (", ".join(names) or f"alert {alert.id}")
    if alert.status != "Actual":
        title = f"{alert.status.upper()} - {title}"
    return title if len(title) <= 120 else title[:119] + "…"


def alert_list_out(*, page: AlertPage) -> dict[str, Any]:
    """A page of alert summaries as JSON."""
    return AlertListOut(
        alerts=[
            AlertSummaryOut(
                id=alert.id,
                state=alert.state,
                status=alert.status,
                revision=alert.revision,
                headline=headline(alert),
                created_at=alert.created_at,
                created_by=OfficerRefOut(
                    id=alert.created_by, name=page.names.get(alert.created_by)
                ),
                submitted_at=page.submitted_at.get(alert.id),
                sent_at=alert.sent_at,
                expires=alert.expires,
                review_note=alert.review_note,
                can_approve=alert.id in page.approvable,
            )
            for alert in page.alerts
        ],
        next=page.next_cursor,
    ).model_dump(mode="json")


def messages_out(
    *, session: Session, alert: Alert, public_url: str, budget: int
) -> dict[str, dict[str, Any]]:
    """What each language's subscribers receive for the alert's current version (rendered
    as dispatch renders it), keyed by language; empty if no version has gone out. Needs an
    app context."""
    versions = store.fetch_versions(session=session, alert_id=alert.id)
    if not versions or versions[-1].msg_type == "Cancel":
        return {}
    current = versions[-1]
    previous = versions[-2].content if len(versions) > 1 else None
    agency = store.get_agency(session=session, agency_id=alert.agency_id).name
    kind = "update" if current.msg_type == "Update" else "alert"
    options: dict[str, Any] = {
        "alert_content": current.content,
        "previous_content": previous,
        "kind": kind,
        "agency": agency,
        "link": f"{public_url}/a/{alert.id}",
    }
    messages = {}
    for language in LANGUAGES:
        sms = render_sms(language=language, budget=budget, **options)
        # Channels are told everything; so is anyone an earlier version did not reach.
        title, body = render_channel(language=language, **{**options, "previous_content": None})
        messages[language] = LanguageMessageOut(
            sms=sms, segments=segments(sms).count, title=title, body=body
        ).model_dump(mode="json")
    return messages


def photos_out(*, outcomes: Sequence[PhotoOutcome], public_url: str) -> list[dict[str, Any]]:
    """What became of each child's photo, as JSON; a stored one with its URL on Haven."""
    shown = []
    for outcome in outcomes:
        fields = outcome.as_dict()
        path = fields.pop("path", None)
        if path is not None:
            fields["url"] = public_url.rstrip("/") + path
        shown.append(PhotoOut.model_validate(fields).model_dump(mode="json"))
    return shown


def audit_out(*, session: Session, alert: Alert) -> dict[str, Any]:
    """An alert's audit trail as JSON."""
    names = store.fetch_officer_names(session=session, agency_id=alert.agency_id)
    return AuditOut(
        entries=[
            AuditEntryOut(
                at=e.at,
                officer=names.get(e.officer_id) if e.officer_id else None,
                officer_id=e.officer_id,
                action=e.action,
                changes=e.changes,
            )
            for e in store.fetch_audit(session=session, alert_id=alert.id)
        ]
    ).model_dump(mode="json")
