"""API credentials: generated once, shown once, stored only as a hash, read from the request."""

from __future__ import annotations

import hashlib
import secrets

from flask import request

from haven.errors import Unauthorized


def new_secret(prefix: str) -> str:
    """A fresh high-entropy credential, prefixed so a leaked one is recognisable."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    """The stored form of a credential.

    Credentials carry 256 random bits, so a fast hash is safe here; it also makes the lookup an
    index probe instead of a comparison loop.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token() -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send your API key as 'Authorization: Bearer <api_key>'.")
    return token.strip()


def header_secret(name: str) -> str:
    """A credential sent in a named header, or 401."""
    value = request.headers.get(name, "").strip()
    if not value:
        raise Unauthorized(f"The '{name}' header is missing.")
    return value
