"""The officers' JSON API: draft, preview, submit, approve, update and cancel alerts."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from alerts import previews, service
from alerts.approvals.service import notify_approvers
from alerts.audience import get_audience
from alerts.cap import CapError
from alerts.cap_read import draft_from_cap, parse_cap
from alerts.console.sessions import COOKIE, require_officer
from alerts.dispatch.service import progress
from alerts.dispatch.setup import notify
from alerts.models import Alert, Officer
from alerts.photo_fetch import PhotoFetcher
from alerts.schemas import (
    AlertIn,
    AlertListOut,
    AlertListQuery,
    AlertOut,
    AlertUpdateIn,
    ApprovalOut,
    ApproveIn,
    AreasAudienceIn,
    AreasAudienceOut,
    AudienceOut,
    AuditOut,
    CancelIn,
    CheckOut,
    DeliveriesOut,
    PreviewOut,
    PreviewQuery,
    ReviewIn,
    SubmitIn,
    UpdateOut,
)
from alerts.views import alert_list_out, alert_out, audit_out, messages_out, photos_out
from haven.auth import bearer_token
from haven.db import get_session
from haven.errors import HavenError, InvalidInput, PreconditionRequired
from haven.openapi import document
from haven.settings import get_settings
from haven.web import parse_json, parse_query

bp = Blueprint("alerts_api", __name__, url_prefix="/api/v1/alerts")
# Areas not (yet) part of any alert: the console counts their audience as the officer draws.
areas_bp = Blueprint("areas_api", __name__, url_prefix="/api/v1/areas")
TAGS = ("alerts",)


@bp.before_request
@areas_bp.before_request
def _authenticate() -> None:
    """An API key for machine clients; the console's session cookie (with its CSRF token on
    every state-changing request) for the console's own scripts."""
    if "Authorization" not in request.headers and COOKIE in request.cookies:
        g.officer = require_officer()
        return
    g.officer = service.authenticate_officer(session=get_session(), api_key=bearer_token())


def _officer() -> Officer:
    officer: Officer = g.officer
    return officer


def _app() -> Flask:
    """The app itself, not the request's proxy: background work outlives the request."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


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


def _if_match_revision() -> int | None:
    """The revision an `If-Match` header names, if the request has one."""
    if not request.if_match:
        return None
    tags = request.if_match
    revisions = tags.as_set()
    if tags.star_tag or len(revisions) != 1 or not next(iter(revisions)).isdigit():
        raise InvalidInput("If-Match: give exactly one revision, as the alert's ETag shows it.")
    return int(next(iter(revisions)))


def _optional_revision(given: int | None) -> int | None:
    """The revision the officer acted on, from the body or `If-Match` (None: not given)."""
    header = _if_match_revision()
    if given is not None and header is not None and given != header:
        raise InvalidInput("revision: the body and If-Match name different revisions.")
    return given if given is not None else header


@bp.get("")
@document(
    "Your agency's alerts, newest first, a page at a time: `state` (repeatable) keeps those "
    "in any of the states given; `next` is the cursor of the following page. `can_approve` "
    "says whether you may approve an alert now.",
    auth="officer",
    query=AlertListQuery,
    responses={200: AlertListOut},
    tags=TAGS,
)
def list_alerts() -> Response:
    """A page of the agency's alerts as summaries."""
    states = request.args.getlist("state")
    others = {k: v for k, v in request.args.items() if k != "state"}
    repeated = [k for k in others if len(request.args.getlist(k)) > 1]
    if repeated:
        raise HavenError(f"Query parameter '{repeated[0]}' is given more than once.")
    query = AlertListQuery.model_validate({**others, "state": states})
    page = service.list_alerts(
        session=get_session(),
        officer=_officer(),
        states=query.state,
        limit=query.limit,
        cursor=query.cursor,
        rules=_rules(),
    )
    return jsonify(alert_list_out(page=page))


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


@bp.post("/check")
@document(
    "Check a draft as creating it would (the same 422 for the same problem), storing nothing.",
    auth="officer",
    body=AlertIn,
    responses={200: CheckOut},
    tags=TAGS,
)
def check() -> Response:
    """Validate the draft and its areas, expiry and jurisdiction."""
    service.check_draft(
        session=get_session(), officer=_officer(), draft=parse_json(AlertIn), rules=_rules()
    )
    return jsonify({"ok": True})


@bp.post("/preview")
@document(
    "The SMS a draft (not stored) would send in each language its audience speaks, and in "
    "English always: the text exactly as sent, its characters, segments and encoding, and how "
    "many subscribers would receive it. `alert` names the stored alert the draft is of, for "
    "its link; without it, the link names the id the next alert would get. The draft is "
    "checked as creating it would be.",
    auth="officer",
    body=AlertIn,
    query=PreviewQuery,
    responses={200: PreviewOut},
    tags=TAGS,
)
def preview() -> Response:
    """Render the first version's SMS per language, with the audience per language."""
    settings = get_settings()
    session = get_session()
    alert_id = parse_query(PreviewQuery).alert
    if alert_id is not None:
        service.get_alert(session=session, officer=_officer(), alert_id=alert_id)
    return jsonify(
        previews.preview_draft(
            session=session,
            officer=_officer(),
            draft=parse_json(AlertIn),
            rules=_rules(),
            audience=get_audience(),
            languages=previews.get_languages(_app()),
            public_url=settings.public_url.rstrip("/"),
            budget=settings.sms_segment_budget,
            alert_id=alert_id,
        )
    )


@areas_bp.post("/audience")
@document(
    "How many subscribers areas that are not stored would reach: in all (each once), per area "
    "in order, and per language; `outside_jurisdiction` is the details of the 422 an alert "
    "with these areas would get for reaching outside your jurisdiction, or null. Other area "
    "errors are the 422s creating an alert gives.",
    auth="officer",
    body=AreasAudienceIn,
    responses={200: AreasAudienceOut},
    tags=TAGS,
)
def areas_audience() -> Response:
    """Count the audience of the areas as drawn."""
    body = parse_json(AreasAudienceIn)
    return jsonify(
        previews.count_areas(
            session=get_session(),
            officer=_officer(),
            areas=body.areas,
            status=body.status,
            rules=_rules(),
            audience=get_audience(),
            languages=previews.get_languages(_app()),
        )
    )


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
@document(
    "Send a draft for approval; optionally at the revision you saw (`revision` in the body or "
    "If-Match: 409 stale_revision if it has changed since). The agency's approvers with a "
    "notification address are told, in the background.",
    auth="officer",
    body=SubmitIn,
    responses={200: AlertOut},
    tags=TAGS,
)
def submit(alert_id: int) -> tuple[Response, int]:
    """Draft to pending; approvers are notified without delaying the answer."""
    given = parse_json(SubmitIn).revision if request.content_length else None
    officer = _officer()
    alert = service.submit_alert(
        session=get_session(),
        officer=officer,
        alert_id=alert_id,
        rules=_rules(),
        revision=_optional_revision(given),
    )
    notify_approvers(_app())  # their notices are committed with the submit
    return _answer(alert)


@bp.post("/<dbid:alert_id>/return")
@document(
    "Return a pending alert to its drafter, with the reason they will see (review_note): an "
    "approver who wrote none of it, naming the revision reviewed (409 stale_revision if it "
    "changed since).",
    auth="officer",
    body=ReviewIn,
    responses={200: AlertOut},
    tags=TAGS,
)
def return_to_draft(alert_id: int) -> tuple[Response, int]:
    """Pending to draft, with the approver's reason."""
    body = parse_json(ReviewIn)
    alert = service.return_alert(
        session=get_session(),
        officer=_officer(),
        alert_id=alert_id,
        revision=body.revision,
        reason=body.reason,
        rules=_rules(),
    )
    return _answer(alert)


@bp.post("/<dbid:alert_id>/reject")
@document(
    "Reject a pending alert: it ends as `rejected`, nothing is sent, and the reason is its "
    "review_note. Who may, and the revision, as for return.",
    auth="officer",
    body=ReviewIn,
    responses={200: AlertOut},
    tags=TAGS,
)
def reject(alert_id: int) -> tuple[Response, int]:
    """Pending to rejected, with the approver's reason."""
    body = parse_json(ReviewIn)
    alert = service.reject_alert(
        session=get_session(),
        officer=_officer(),
        alert_id=alert_id,
        revision=body.revision,
        reason=body.reason,
        rules=_rules(),
    )
    return _answer(alert)


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
    "per language (null removes one). Optionally at the revision you saw (`revision` or "
    "If-Match: 409 stale_revision if it has changed since). For an active alert, `messages` "
    "gives per language what its subscribers will receive, and `photos`, when the update "
    "changes the children, what became of each child's photo (new photo URLs are fetched as "
    "at approval).",
    auth="officer",
    body=AlertUpdateIn,
    responses={200: UpdateOut},
    tags=TAGS,
)
def update(alert_id: int) -> tuple[Response, int]:
    """Apply the changes; answer with the alert and, per language, the update it sends."""
    session = get_session()
    settings = get_settings()
    changes = parse_json(AlertUpdateIn)
    alert, photos = service.update_alert(
        session=session,
        officer=_officer(),
        alert_id=alert_id,
        changes=changes,
        rules=_rules(),
        audience=get_audience(),
        photos=PhotoFetcher.from_settings(settings),
        revision=_optional_revision(changes.revision),
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
    "Cancel an alert, giving the reason; optionally at the revision you saw (`revision` or "
    "If-Match: 409 stale_revision if it has changed since).",
    auth="officer",
    body=CancelIn,
    responses={200: AlertOut},
    tags=TAGS,
)
def cancel(alert_id: int) -> tuple[Response, int]:
    """End the alert; an active one sends a cancellation."""
    cancel = parse_json(CancelIn)
    alert = service.cancel_alert(
        session=get_session(),
        officer=_officer(),
        alert_id=alert_id,
        cancel=cancel,
        audience=get_audience(),
        revision=_optional_revision(cancel.revision),
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
