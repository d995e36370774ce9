"""Plain factory functions and fixtures that make test data through Haven's own services."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from haven.db import get_session
from takedown.service import PlatformCredentials, add_platform


def create_platform(app: Flask, name: str | None = None) -> PlatformCredentials:
    """Register a platform and return its credentials."""
    with app.app_context():
        return add_platform(session=get_session(), name=name or f"platform-{secrets.token_hex(3)}")


def random_md5() -> str:
    """A random MD5 value."""
    return hashlib.md5(secrets.token_bytes(16)).hexdigest()  # noqa: S324 - test data


def random_pdq() -> str:
    """A random PDQ value."""
    return secrets.token_hex(32)


def image_hashes(count: int = 1) -> list[dict[str, Any]]:
    """`count` images' hashes (MD5 and PDQ each), as the page would submit them."""
    hashes: list[dict[str, Any]] = []
    for _ in range(count):
        hashes.append({"media": "image", "algorithm": "md5", "value": random_md5()})
        hashes.append({"media": "image", "algorithm": "pdq", "value": random_pdq(), "quality": 90})
    return hashes


def video_hash() -> dict[str, Any]:
    """A video's MD5."""
    return {"media": "video", "algorithm": "md5", "value": random_md5()}


def submit_case(client: FlaskClient, hashes: list[dict[str, Any]]) -> dict[str, Any]:
    """Submit a case and return its number and PIN."""
    response = client.post("/api/v1/takedown/cases", json={"hashes": hashes})
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def bearer(key: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def platform(app: Flask) -> PlatformCredentials:
    """A registered platform."""
    return create_platform(app, "Example Platform")
