"""What the subscription blueprints take from the app: providers, flood limits, URL policy.

Tests (and other callers) may put their own providers in `app.extensions["haven.sms"]` and
`app.extensions["haven.channels"]`; otherwise the settings choose them, once per app.
"""

from __future__ import annotations

from flask import current_app, request

from alerts.providers import (
    ChannelProvider,
    SmsProvider,
    make_channel_provider,
    make_sms_provider,
)
from alerts.subscriptions.channels import UrlPolicy
from alerts.subscriptions.service import Limits
from haven.settings import get_settings


def sms_provider() -> SmsProvider:
    """The app's SMS provider."""
    if "haven.sms" not in current_app.extensions:
        current_app.extensions["haven.sms"] = make_sms_provider(get_settings())
    provider: SmsProvider = current_app.extensions["haven.sms"]
    return provider


def channel_provider() -> ChannelProvider:
    """The app's Apprise provider."""
    if "haven.channels" not in current_app.extensions:
        current_app.extensions["haven.channels"] = make_channel_provider(get_settings())
    provider: ChannelProvider = current_app.extensions["haven.channels"]
    return provider


def limits() -> Limits:
    """The flood limits in force."""
    return Limits.from_settings(get_settings())


def url_policy() -> UrlPolicy:
    """Where channels may point."""
    return UrlPolicy.from_settings(get_settings())


def client() -> str:
    """Who is asking, for flood limits only (hashed by the throttle, never stored)."""
    return request.remote_addr or "unknown"
