"""Plain factory functions and fixtures that make test data through Haven's own services."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
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


def random_vpdq(frames: int = 3, quality: int = 90) -> str:
    """A vPDQ signal string of `frames` random frames, one a second, spelt canonically."""
    return json.dumps([f"{random_pdq()},{quality},{second:.3f}" for second in range(frames)])


def vpdq_hash(frames: int = 3) -> dict[str, Any]:
    """A video's vPDQ, as the page sends it."""
    return {"media": "video", "algorithm": "vpdq", "value": random_vpdq(frames)}


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


@pytest.fixture
def pin_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The PIN hashes checked from now on, in order: each call of argon2's
    PasswordHasher.verify (watched, not replaced: every check still runs)."""
    checked: list[str] = []
    original: Callable[..., bool] = PasswordHasher.verify

    def watched(self: PasswordHasher, hash: str, password: str) -> bool:
        checked.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", watched)
    return checked


# AMBER alerts

COOK_COUNTY = "017031"  # Cook County, Illinois
ILLINOIS = "017000"


def create_agency(app: Flask, name: str = "Chicago PD", jurisdiction: str = ILLINOIS) -> int:
    """Register an agency; returns its id."""
    from alerts.service import add_agency

    with app.app_context():
        return add_agency(session=get_session(), name=name, same_codes=[jurisdiction]).id


def create_officer(
    app: Flask, agency: str = "Chicago PD", name: str | None = None, *, approver: bool = False
) -> str:
    """Register an officer; returns the API key."""
    from alerts.service import add_officer

    with app.app_context():
        _officer, key = add_officer(
            session=get_session(),
            agency_name=agency,
            name=name or f"officer-{secrets.token_hex(3)}",
            approver=approver,
        )
    return key


def create_subscribers(app: Flask, rows: list[tuple[str, float, float]], **kw: Any) -> None:
    """Subscribers from (phone, lat, lon) rows, through the CSV importer."""
    import io

    from alerts.subscribers import import_subscribers

    lines = ["phone,language,lat,lon"] + [
        f"{phone},{kw.get('language', 'en')},{lat},{lon}" for phone, lat, lon in rows
    ]
    with app.app_context():
        report = import_subscribers(session=get_session(), source=io.StringIO("\n".join(lines)))
    assert report.errors == [], report.errors


def draft_body(**overrides: Any) -> dict[str, Any]:
    """A valid alert draft, as in the README, expiring in six hours."""
    import datetime

    body: dict[str, Any] = {
        "status": "Actual",
        "expires": (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)).isoformat(),
        "areas": [{"same": COOK_COUNTY}],
        "children": [{"name": "Jane Doe", "age": 7, "description": "brown hair, red jacket"}],
        "suspects": [{"description": "white male, 40s, grey hoodie"}],
        "vehicle": {
            "make": "Ford",
            "model": "Focus",
            "color": "blue",
            "plate": "ABC1234",
            "plate_state": "IL",
        },
        "last_seen": {"at": "2026-11-22T12:30:00-06:00", "place": "Millennium Park, Chicago"},
        "contact_phone": "+18005551234",
        "texts": {
            "en": "Call 911 with any information.",
            "es": "Llame al 911 con cualquier información.",
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def officers(app: Flask) -> dict[str, str]:
    """Chicago PD with a drafting officer and an approving one; their API keys."""
    create_agency(app)
    return {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
    }


@pytest.fixture
def officer(app: Flask) -> str:
    """Chicago PD with one officer; the API key."""
    create_agency(app)
    return create_officer(app, name="Drafter")


def audience_count(client: FlaskClient, officer: str) -> int:
    """How many subscribers a Cook County alert would reach now."""
    alert = client.post("/api/v1/alerts", json=draft_body(), headers=bearer(officer)).json
    assert alert is not None
    counted = client.post(f"/api/v1/alerts/{alert['id']}/audience", headers=bearer(officer))
    subscribers: int = counted.json["subscribers"]  # type: ignore[index]
    return subscribers


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def public_port() -> int:
    """The port the app will be served on (its HAVEN_PUBLIC_URL must name it in advance)."""
    return free_port()


@contextlib.contextmanager
def serving(app: Flask, port: int) -> Iterator[Flask]:
    """The app served over real HTTP on 127.0.0.1:`port` while the block runs."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=5)


def catalog_text(language: str, msgid_start: str, plural_form: int = 0) -> str:
    """The longest placeholder-free run of the translation, in Haven's catalog for
    `language`, of the one message whose msgid starts with `msgid_start` (for `in` checks)."""
    import re

    from babel.messages.pofile import read_po

    from haven.i18n import CATALOG_LOCALES
    from haven.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "translations" / CATALOG_LOCALES.get(language, language)
    with (path / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        catalog = read_po(stream)

    def first(value: object) -> str:
        return str(value[0] if isinstance(value, (tuple, list)) else value)

    found = [m for m in catalog if m.id and first(m.id).startswith(msgid_start)]
    assert len(found) == 1, f"{len(found)} messages start with {msgid_start!r}"
    string = found[0].string
    text = str(string[plural_form] if isinstance(string, (tuple, list)) else string)
    assert text
    return max(re.split(r"%\([a-z_]+\)[sd]", text), key=len).strip()
