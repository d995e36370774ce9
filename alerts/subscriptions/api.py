"""The channel subscription API: `POST /api/v1/subscriptions/channels` (public, rate-limited)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from alerts.subscriptions import channels, wiring
from alerts.subscriptions.schemas import ChannelIn, ChannelOut
from haven.db import get_session
from haven.openapi import document
from haven.ratelimit import get_throttle
from haven.settings import get_settings
from haven.web import parse_json

bp = Blueprint("subscription_api", __name__, url_prefix="/api/v1/subscriptions")


@bp.post("/channels")
@document(
    "Subscribe an Apprise URL (email, ntfy, JSON webhook...) to alerts for up to 5 places. "
    "A confirmation link is sent through the channel; it is active only once confirmed.",
    auth=None,
    body=ChannelIn,
    responses={202: ChannelOut},
    tags=("subscriptions",),
)
def subscribe_channel() -> tuple[Response, int]:
    """Check the URL and places, store the channel pending, send its confirmation link."""
    channels.subscribe_channel(
        session=get_session(),
        request=parse_json(ChannelIn),
        client=wiring.client(),
        throttle=get_throttle(),
        limits=wiring.limits(),
        policy=wiring.url_policy(),
        provider=wiring.channel_provider(),
        secret_key=get_settings().secret_key,
    )
    out = ChannelOut(
        status="pending",
        message="A confirmation link was sent through the channel. Alerts start once someone "
        "opens it and confirms.",
    )
    return jsonify(out.model_dump()), 202
