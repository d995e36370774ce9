"""Tokens: signed form tokens against cross-site posts, pending web subscriptions and
unsubscriptions, channel links.

Signed tokens (itsdangerous, keyed by HAVEN_SECRET_KEY) need no storage, so the subscription
pages set no cookie. They stop working when the key changes: production must set one stable
HAVEN_SECRET_KEY, or every channel's unsubscribe link breaks. A channel's confirmation token is
the exception: it is random, and only its hash is stored.
"""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from typing import Any

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

from geo.locations import Location
from haven.auth import hash_secret

FORM_SALT = "haven.subscriptions.form"
PENDING_SALT = "haven.subscriptions.pending"
STOP_SALT = "haven.subscriptions.channel-stop"
UNSUBSCRIBE_SALT = "haven.subscriptions.unsubscribe"
# A form may sit open a while before it is sent; a pending subscription outlives its code.
FORM_MAX_AGE = 2 * 3600
PENDING_MAX_AGE = 30 * 60


@dataclasses.dataclass(frozen=True)
class Pending:
    """A web subscription waiting for its code: which code, and what to add once it is right."""

    verification_id: int
    places: tuple[Location, ...]
    language: str
    phone_hint: str  # the last digits of the number, to remind the person where the code went


def form_token(secret: str) -> str:
    """A token for a form's hidden field, proving the form came from Haven recently."""
    return URLSafeTimedSerializer(secret, salt=FORM_SALT).dumps(secrets.token_hex(4))


def form_token_is_valid(secret: str, token: str) -> bool:
    """Whether a posted form token is Haven's and recent."""
    try:
        URLSafeTimedSerializer(secret, salt=FORM_SALT).loads(token, max_age=FORM_MAX_AGE)
    except BadData:
        return False
    return True


def pending_token(secret: str, pending: Pending) -> str:
    """The pending subscription, signed, for the code form's hidden field."""
    places = [[p.lat, p.lon, p.zip_code] for p in pending.places]
    payload = {
        "v": pending.verification_id,
        "p": places,
        "l": pending.language,
        "h": pending.phone_hint,
    }
    return URLSafeTimedSerializer(secret, salt=PENDING_SALT).dumps(payload)


def read_pending_token(secret: str, token: str) -> Pending | None:
    """The pending subscription a token holds, or None if it is not Haven's or too old."""
    try:
        payload: Any = URLSafeTimedSerializer(secret, salt=PENDING_SALT).loads(
            token, max_age=PENDING_MAX_AGE
        )
        places = tuple(
            Location(lat=float(lat), lon=float(lon), zip_code=zip_code)
            for lat, lon, zip_code in payload["p"]
        )
        return Pending(int(payload["v"]), places, str(payload["l"]), str(payload["h"]))
    except (BadData, KeyError, TypeError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class PendingUnsubscribe:
    """A web unsubscription waiting for its code: the number (E.164), this request's own
    random id, and when the code was asked for.

    It says nothing about whether the number gets alerts: every number typed gets one."""

    phone: str
    request_id: str
    asked_at: datetime.datetime

    @property
    def phone_hint(self) -> str:
        """The last digits of the number, to remind the person which number it was."""
        return self.phone[-4:]


def unsubscribe_token(secret: str, pending: PendingUnsubscribe) -> str:
    """The pending unsubscription, signed (not encrypted: it holds the number the person
    typed, and goes back only to them), for the code form's hidden field."""
    payload = {
        "p": pending.phone,
        "r": pending.request_id,
        "t": int(pending.asked_at.timestamp()),
    }
    return URLSafeTimedSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps(payload)


def read_unsubscribe_token(secret: str, token: str) -> PendingUnsubscribe | None:
    """The pending unsubscription a token holds, or None if it is not Haven's or too old."""
    try:
        payload: Any = URLSafeTimedSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(
            token, max_age=PENDING_MAX_AGE
        )
        asked_at = datetime.datetime.fromtimestamp(int(payload["t"]), datetime.UTC)
        return PendingUnsubscribe(str(payload["p"]), str(payload["r"]), asked_at)
    except (BadData, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def new_confirm_token() -> tuple[str, str]:
    """A fresh channel confirmation token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hash_confirm_token(token)


def hash_confirm_token(token: str) -> str:
    """The stored form of a confirmation token (256 random bits: a fast hash is enough)."""
    return hash_secret(token)


def channel_stop_token(secret: str, channel_id: int) -> str:
    """The token of a channel's unsubscribe link. It never expires: old messages keep working."""
    return URLSafeSerializer(secret, salt=STOP_SALT).dumps(channel_id)


def read_channel_stop_token(secret: str, token: str) -> int | None:
    """The channel an unsubscribe token names, or None if it is not Haven's."""
    try:
        channel_id = URLSafeSerializer(secret, salt=STOP_SALT).loads(token)
    except BadData:
        return None
    return channel_id if isinstance(channel_id, int) and not isinstance(channel_id, bool) else None
