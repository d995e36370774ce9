"""Inbound SMS webhooks: Twilio's `POST /webhooks/twilio/inbound`, answered with TwiML, and
Vonage's `POST /webhooks/vonage/inbound`, answered by a message sent through Vonage.

Twilio signs the URL it called (HAVEN_PUBLIC_URL + the path: behind a proxy, the public one)
and the form fields; Vonage signs the fields (with VONAGE_SIGNATURE_SECRET). An unsigned or
wrongly signed request is refused with 403 before anything is read or changed. Without
TWILIO_AUTH_TOKEN (VONAGE_SIGNATURE_SECRET) every request to that provider's route is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from alerts.dispatch.webhooks import verify_twilio_signature, vonage_params
from alerts.phones import to_e164
from alerts.providers import SendResult
from alerts.subscriptions import replies, service, wiring
from alerts.subscriptions.schemas import TwilioInboundIn, VonageInboundIn
from haven.db import get_session
from haven.errors import InvalidInput
from haven.openapi import document
from haven.ratelimit import get_throttle
from haven.settings import get_settings

log = logging.getLogger(__name__)

bp = Blueprint("subscription_webhooks", __name__, url_prefix="/webhooks/twilio")
vonage_bp = Blueprint("subscription_vonage_webhooks", __name__, url_prefix="/webhooks/vonage")


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


@vonage_bp.post("/inbound")
@document(
    "Vonage's inbound-message webhook: subscription keywords (signed by Vonage).",
    auth="vonage",
    body=VonageInboundIn,
    body_media_type="application/x-www-form-urlencoded",
    responses={204: "Acted on; any reply is sent through Vonage after the answer."},
    tags=("webhooks",),
)
def vonage_inbound() -> tuple[str, int]:
    """Act on a keyword (JOIN/AMBER, STOP, START, HELP, LANG); reply by SMS through Vonage.

    Vonage answers nothing back from the webhook's response, as Twilio does with TwiML: the
    reply is a message of its own, sent after the answer. A part of a long message (`concat`)
    is not a keyword and is ignored.
    """
    message = VonageInboundIn.model_validate(vonage_params())
    try:
        phone = to_e164("+" + message.msisdn.removeprefix("+"))
    except ValueError as exc:
        raise InvalidInput(f"msisdn: {exc}") from exc
    if message.concat == "true":
        return "", 204
    reply = service.handle_sms(
        session=get_session(),
        phone=phone,
        body=message.text,
        throttle=get_throttle(),
        limits=wiring.limits(),
    )
    if reply is not None:
        text = replies.render(reply)
        provider = wiring.vonage_provider()
        if provider is None:
            log.warning("inbound SMS through Vonage: no VONAGE_API_KEY to reply with")
        else:
            wiring.background().submit(
                lambda _session: _reply(provider.send_sms, phone=phone, text=text)
            )
    return "", 204


def _reply(send: Callable[..., SendResult], *, phone: str, text: str) -> None:
    result = send(to=phone, body=text, validity_seconds=None, status_callback=None)
    if result.outcome != "accepted":
        log.warning("a reply through Vonage was not sent: %s", result.error_code)
