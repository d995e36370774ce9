"""The officers' JSON API: draft, preview, submit, approve, update and cancel alerts."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from alerts import service
from alerts.audience import get_audience
from alerts.cap import CapError
from alerts.cap_read import draft_from_cap, parse_cap
from alerts.dispatch.service import progress
from alerts.dispatch.setup import notify
from alerts.models import Alert, Officer
from alerts.photo_fetch import PhotoFetcher
from alerts.schemas import (
    AlertIn,
    AlertOut,
    AlertUpdateIn,
    ApprovalOut,
    ApproveIn,
    AudienceOut,
    AuditOut,
    CancelIn,
    DeliveriesOut,
    UpdateOut,
)
from alerts.views import alert_out, audit_out, messages_out, photos_out
from haven.auth import bearer_token
from haven.db import get_session
from haven.errors import HavenError, InvalidInput, PreconditionRequired
from haven.openapi import document
from haven.settings import get_settings
from haven.web import parse_json

bp = Blueprint("alerts_api", __name__, url_prefix="/api/v1/alerts")
TAGS = ("alerts",)


@bp.before_request
def _authenticate() -> None:
    g.officer = service.authenticate_officer(session=get_session(), api_key=bearer_token())


def _officer() -> Officer:
    officer: Officer = g.officer
    return officer


def _rules() -> service.Rules:
    return service.Rules.from_settings(get_settings())


def _sent(alert: Alert) -> tuple[Response, int]:
    """Answer for a transition that may have queued a version for dispatch."""
    notify(current_app)
    return _answer(alert)


def _answer(alert: Alert, status: int = 200) -> tuple[Response, int]:
    response = jsonify(alert_out(session=get_session(), alert=alert))
    response.set_etag(str(alert.revision))
    return response, status


def _reviewed_revision() -> int:
    """The revision the approver reviewed: `{"revision": N}` in the body, or `If-Match`."""
    if request.content_length or request.is_json:
        return parse_json(ApproveIn).revision
    tags = request.if_match
    if not tags:
        raise PreconditionRequired(
            'Give the revision you reviewed, as {"revision": N} or an If-Match header: '
            "GET the alert to see its revision (and ETag).",
            code="revision_required",
        )
    revisions = tags.as_set()
    if tags.star_tag or len(revisions) != 1 or not next(iter(revisions)).isdigit():
        raise InvalidInput("If-Match: give exactly one revision, as the alert's ETag shows it.")
    return int(next(iter(revisions)))


@bp.post("")
@document(
    "Create an alert draft.",
    auth="officer",
    body=AlertIn,
    responses={201: AlertOut},
    tags=TAGS,
    links={
        f"alerts_api.{view}": {"alert_id": "$response.body#/id"}
        for view in ("read", "audience", "submit", "approve", "update", "cancel", "audit")
    },
)
def create() -> tuple[Response, int]:
    """Store a draft after checking areas, expiry and jurisdiction."""
    alert = service.create_draft(
        session=get_session(), officer=_officer(), draft=parse_json(AlertIn), rules=_rules()
    )
    return _answer(alert, 201)


class CapImportOut(AlertOut):
    """The draft made from a CAP document, and what of it Haven could not use."""

    skipped: list[str]


@bp.post("/cap")
@document(
    "Create a draft from a CAP 1.2 AMBER alert (Content-Type application/cap+xml or "
    "application/xml).",
    auth="officer",
    responses={201: CapImportOut},
    tags=TAGS,
)
def create_from_cap() -> tuple[Response, int]:
    """Read the CAP document safely, keep what an AMBER draft needs, report what was skipped."""
    if request.mimetype not in ("application/cap+xml", "application/xml", "text/xml"):
        raise HavenError(
            "Send the CAP document with Content-Type application/cap+xml.",
            code="unsupported_media_type",
        )
    try:
        draft = dict(draft_from_cap(parse_cap(request.get_data())))
    except CapError as exc:
        raise InvalidInput(str(exc), code="invalid_cap") from exc
    skipped = draft.pop("skipped", [])
    alert = service.create_draft(
        session=get_session(),
        officer=_officer(),
        draft=AlertIn.model_validate(draft),
        rules=_rules(),
    )
    body = alert_out(session=get_session(), alert=alert)
    return jsonify({**body, "skipped": skipped}), 201


@bp.get("/<dbid:alert_id>")
@document(
    "An alert of your agency; its ETag is its revision.",
    auth="officer",
    responses={200: AlertOut},
    tags=TAGS,
)
def read(alert_id: int) -> tuple[Response, int]:
    """The alert, its state, revision and current version."""
    return _answer(service.get_alert(session=get_session(), officer=_officer(), alert_id=alert_id))


@bp.post("/<dbid:alert_id>/audience")
@document(
    "How many subscribers and locations the alert would reach, in all and per area.",
    auth="officer",
    responses={200: AudienceOut},
    tags=TAGS,
)
def audience(alert_id: int) -> Response:
    """Count the audience now, before (or after) sending."""
    session = get_session()
    alert = service.get_alert(session=session, officer=_officer(), alert_id=alert_id)
    return jsonify(service.count_audience(session=session, alert=alert, audience=get_audience()))


@bp.post("/<dbid:alert_id>/submit")
@document("Send a draft for approval.", auth="officer", responses={200: AlertOut}, tags=TAGS)
def submit(alert_id: int) -> tuple[Response, int]:
    """Draft to pending."""
    return _answer(
        service.submit_alert(session=get_session(), officer=_officer(), alert_id=alert_id)
    )


@bp.post("/<dbid:alert_id>/approve")
@document(
    "Approve and send an alert (a second officer with approver rights, who wrote none of it), "
    "naming the revision reviewed: `revision` in the body or an `If-Match` header. 409 if the "
    "alert has changed since. Haven fetches each child's photo first; `photos` says what "
    "became of each, and a photo it could not fetch is `not_used` (the alert goes out without "
    "it).",
    auth="officer",
    body=ApproveIn,
    responses={200: ApprovalOut},
    tags=TAGS,
)
def approve(alert_id: int) -> tuple[Response, int]:
    """Pending to active at the reviewed revision: version 1 goes out, with the photos."""
    settings = get_settings()
    alert, photos = service.approve_alert(
        session=get_session(),
        officer=_officer(),
        alert_id=alert_id,
        revision=_reviewed_revision(),
        rules=_rules(),
        audience=get_audience(),
        photos=PhotoFetcher.from_settings(settings),
    )
    notify(current_app)
    body = alert_out(session=get_session(), alert=alert)
    body["photos"] = photos_out(outcomes=photos, public_url=settings.public_url)
    response = jsonify(body)
    response.set_etag(str(alert.revision))
    return response, 200


@bp.post("/<dbid:alert_id>/update")
@document(
    "Change an alert: a draft in place (a pending one goes back to draft and needs a new "
    "submit), an active alert as a new version. Every change raises its revision. Texts merge "
    "per language (null removes one). For an active alert, `messages` gives per language what "
    "its subscribers will receive, and `photos`, when the update changes the children, what "
    "became of each child's photo (new photo URLs are fetched as at approval).",
    auth="officer",
    body=AlertUpdateIn,
    responses={200: UpdateOut},
    tags=TAGS,
)
def update(alert_id: int) -> tuple[Response, int]:
    """Apply the changes; answer with the alert and, per language, the update it sends."""
    session = get_session()
    settings = get_settings()
    alert, photos = service.update_alert(
        session=session,
        officer=_officer(),
        alert_id=alert_id,
        changes=parse_json(AlertUpdateIn),
        rules=_rules(),
        audience=get_audience(),
        photos=PhotoFetcher.from_settings(settings),
    )
    notify(current_app)
    messages = messages_out(
        session=session,
        alert=alert,
        public_url=settings.public_url.rstrip("/"),
        budget=settings.sms_segment_budget,
    )
    response = jsonify(
        {
            **alert_out(session=session, alert=alert),
            "messages": messages,
            "photos": photos_out(outcomes=photos, public_url=settings.public_url),
        }
    )
    response.set_etag(str(alert.revision))
    return response, 200


@bp.post("/<dbid:alert_id>/cancel")
@document(
    "Cancel an alert, giving the reason.",
    auth="officer",
    body=CancelIn,
    responses={200: AlertOut},
    tags=TAGS,
)
def cancel(alert_id: int) -> tuple[Response, int]:
    """End the alert; an active one sends a cancellation."""
    alert = service.cancel_alert(
        session=get_session(),
        officer=_officer(),
        alert_id=alert_id,
        cancel=parse_json(CancelIn),
        audience=get_audience(),
    )
    return _sent(alert)


@bp.get("/<dbid:alert_id>/deliveries")
@document(
    "Delivery progress: counts by version, channel and status; first and last send times.",
    auth="officer",
    responses={200: DeliveriesOut},
    tags=TAGS,
)
def deliveries(alert_id: int) -> Response:
    """How the alert's messages are going."""
    session = get_session()
    alert = service.get_alert(session=session, officer=_officer(), alert_id=alert_id)
    return jsonify(progress(session=session, alert_id=alert.id))


@bp.get("/<dbid:alert_id>/audit")
@document("The alert's audit trail.", auth="officer", responses={200: AuditOut}, tags=TAGS)
def audit(alert_id: int) -> Response:
    """Who did what, when, and what changed."""
    session = get_session()
    alert = service.get_alert(session=session, officer=_officer(), alert_id=alert_id)
    return jsonify(audit_out(session=session, alert=alert))
