"""Providers' status reports, signature-verified: Twilio's status callbacks
(`POST /webhooks/twilio/status`) and Vonage's delivery receipts (`POST /webhooks/vonage/status`)."""

from __future__ import annotations

from flask import Blueprint, request
from twilio.request_validator import RequestValidator

from alerts.dispatch.service import apply_status_callback
from alerts.subscribers import mark_unreachable
from alerts.vonage import RECEIPT_STATUSES, receipt_status, verify_signature
from haven.db import get_session
from haven.errors import Forbidden, InvalidInput
from haven.openapi import document
from haven.settings import get_settings

bp = Blueprint("twilio_status", __name__, url_prefix="/webhooks/twilio")
vonage_bp = Blueprint("vonage_status", __name__, url_prefix="/webhooks/vonage")

STATUSES = {"queued", "sending", "sent", "delivered", "undelivered", "failed"}


def verify_twilio_signature() -> None:
    """403 unless X-Twilio-Signature signs this request's public URL and form parameters.

    Twilio signs the URL it called, so it is rebuilt from HAVEN_PUBLIC_URL, not from what a
    proxy in between made of it.
    """
    settings = get_settings()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.twilio_auth_token or not signature:
        raise Forbidden("This webhook accepts only requests signed by Twilio.")
    url = settings.public_url.rstrip("/") + request.full_path.rstrip("?")
    params = request.form.to_dict(flat=True)
    if not RequestValidator(settings.twilio_auth_token).validate(url, params, signature):
        raise Forbidden("The Twilio signature does not match this request.")


@bp.post("/status")
@document(
    "Twilio StatusCallback: updates one delivery (signed by Twilio).",
    auth="twilio",
    responses={204: "Recorded."},
    tags=("webhooks",),
)
def status() -> tuple[str, int]:
    """Move the delivery to the reported status; unknown messages are ignored.

    A number Twilio reports as unknown or unreachable (30005, 30006, 21211) stops getting
    alerts; one that replied STOP (21610) is opted out.
    """
    verify_twilio_signature()
    sid = request.form.get("MessageSid", "")
    reported = request.form.get("MessageStatus", "")
    if not sid or len(sid) > 64 or reported not in STATUSES:
        raise InvalidInput("MessageSid and a known MessageStatus are required.")
    code = request.form.get("ErrorCode") or None
    apply_status_callback(
        session=get_session(),
        provider_id=sid,
        status=reported,
        error_code=code[:16] if code else None,
        on_permanent=mark_unreachable,
    )
    return "", 204


def vonage_params() -> dict[str, str]:
    """The parameters of a Vonage webhook (a form, or JSON for Vonage's POST-JSON method); 403
    unless Vonage signed them with VONAGE_SIGNATURE_SECRET (`sig` and `timestamp` fields).

    Without the signature secret every request is refused: Vonage signs its webhooks only
    when its support has switched signing on for the account (docs/sms.md).
    """
    settings = get_settings()
    if request.is_json:
        body = request.get_json(silent=True)
        params = {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    else:
        params = request.form.to_dict(flat=True)
    secret = settings.vonage_signature_secret
    if not secret or not verify_signature(
        params,
        api_key=settings.vonage_api_key,
        secret=secret,
        method=settings.vonage_signature_method,
    ):
        raise Forbidden("This webhook accepts only requests signed by Vonage.")
    return params


@vonage_bp.post("/status")
@document(
    "Vonage delivery receipt: updates one delivery (signed by Vonage).",
    auth="vonage",
    body_media_type="application/x-www-form-urlencoded",
    responses={204: "Recorded."},
    tags=("webhooks",),
)
def vonage_status() -> tuple[str, int]:
    """Move the delivery to the receipt's status, as a Twilio status callback would; unknown
    messages and "unknown" receipts are ignored.

    A number Vonage reports as gone (err-code 3) stops getting alerts; one whose user barred
    or refused Haven's messages (4, 9) is opted out.
    """
    params = vonage_params()
    message_id = params.get("messageId", "")
    reported = params.get("status", "")
    if not message_id or len(message_id) > 64 or reported not in RECEIPT_STATUSES:
        raise InvalidInput("messageId and a known status are required.")
    status, code = receipt_status(reported, params.get("err-code", ""))
    if status is not None:
        apply_status_callback(
            session=get_session(),
            provider_id=message_id,
            status=status,
            error_code=code,
            on_permanent=mark_unreachable,
        )
    return "", 204
