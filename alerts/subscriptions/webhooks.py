"""Twilio's inbound SMS webhook: `POST /webhooks/twilio/inbound`, answered with TwiML.

Twilio signs the URL it called (HAVEN_PUBLIC_URL + the path: behind a proxy, the public one)
and the form fields; an unsigned or wrongly signed request is refused with 403 before anything
is read or changed. Without TWILIO_AUTH_TOKEN every request is refused.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from alerts.dispatch.webhooks import verify_twilio_signature
from alerts.phones import to_e164
from alerts.subscriptions import replies, service, wiring
from alerts.subscriptions.schemas import TwilioInboundIn
from haven.db import get_session
from haven.errors import InvalidInput
from haven.openapi import document
from haven.ratelimit import get_throttle
from haven.settings import get_settings

log = logging.getLogger(__name__)

bp = Blueprint("subscription_webhooks", __name__, url_prefix="/webhooks/twilio")


@bp.post("/inbound")
@document(
    "Twilio's incoming-message webhook: subscription keywords (signed by Twilio).",
    auth="twilio",
    body=TwilioInboundIn,
    body_media_type="application/x-www-form-urlencoded",
    responses={200: "TwiML (text/xml): a <Response> with the reply, or an empty one."},
    tags=("webhooks",),
)
def inbound() -> Response:
    """Act on a keyword (JOIN/AMBER, STOP, START, HELP, LANG) and reply in TwiML."""
    if not get_settings().twilio_auth_token:
        log.warning("inbound SMS refused: TWILIO_AUTH_TOKEN is not set, so no signature can match")
    verify_twilio_signature()
    message = TwilioInboundIn.model_validate(request.form.to_dict(flat=True))
    try:
        phone = to_e164(message.From)
    except ValueError as exc:
        raise InvalidInput(f"From: {exc}") from exc
    reply = service.handle_sms(
        session=get_session(),
        phone=phone,
        body=message.Body,
        throttle=get_throttle(),
        limits=wiring.limits(),
    )
    twiml = MessagingResponse()
    if reply is not None:
        twiml.message(replies.render(reply))
    return Response(str(twiml), mimetype="text/xml")
