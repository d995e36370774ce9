"""Twilio's status callbacks: `POST /webhooks/twilio/status`, signature-verified."""

from __future__ import annotations

from flask import Blueprint, request
from twilio.request_validator import RequestValidator

from alerts.dispatch.service import apply_status_callback
from alerts.subscribers import mark_unreachable
from haven.db import get_session
from haven.errors import Forbidden, InvalidInput
from haven.openapi import document
from haven.settings import get_settings

bp = Blueprint("twilio_status", __name__, url_prefix="/webhooks/twilio")

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
