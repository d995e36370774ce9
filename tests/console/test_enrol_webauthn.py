"""Enrolment and sign-in with a security key, through the pages, with a software
authenticator that speaks WebAuthn's data formats (ES256, "none" attestation): a credential
registered by someone else is refused, and an assertion for another challenge or origin, or
signed by another key, does not sign in. (test_signin_browser.py does the same in Chromium.)"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import struct
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from webauthn.helpers import encode_cbor

from alerts.models import OfficerCredential
from haven.db import get_session
from tests.console.test_enrol import (
    PASSWORD,
    actions,
    form_value,
    new_officer,
    officer_row,
    pre_csrf,
)
from tests.console.test_signin import factor_form, password_form


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftKey:
    """One credential of a software authenticator."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.count = 0

    def _cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return encode_cbor({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def register(self, options: dict[str, Any], origin: str) -> str:
        """The browser's JSON answer to navigator.credentials.create()."""
        client_data = json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin}
        ).encode()
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + struct.pack(">I", self.count)
            + bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose()
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["usb"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(self, options: dict[str, Any], origin: str, signer: SoftKey | None = None) -> str:
        """The browser's JSON answer to navigator.credentials.get() (signed by `signer`'s key
        when given, to forge one)."""
        self.count += 1
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": options["challenge"], "origin": origin}
        ).encode()
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([0x05])
            + struct.pack(">I", self.count)
        )
        signature = (signer or self).key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                },
                "clientExtensionResults": {},
            }
        )


ORIGIN = "http://127.0.0.1:5000"  # the test app's public_url


def options_of(page: str) -> dict[str, Any]:
    """The WebAuthn options a page hands its script."""
    options: dict[str, Any] = json.loads(form_value_attr(page, "data-options"))
    return options


def form_value_attr(page: str, attribute: str) -> str:
    found = re.search(rf'{attribute}="([^"]*)"', page)
    assert found
    return html.unescape(found[1])


def enrol_with_key(client: FlaskClient, token: str, key: SoftKey) -> Any:
    """Post the enrolment form with PASSWORD and a registration by `key`; the answer."""
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    options = options_of(page)
    assert options["rp"]["id"] == "127.0.0.1"
    return client.post(
        f"/console/enrol/{token}",
        data={
            "state": form_value(page, "state"),
            "pre_csrf_token": pre_csrf(page),
            "password": PASSWORD,
            "password_again": PASSWORD,
            "credential": key.register(options, ORIGIN),
        },
    )


def factor_page(client: FlaskClient, name: str = "Drafter") -> str:
    answer = client.post(
        "/console/sign-in", data=password_form(client, name=name, password=PASSWORD)
    )
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_an_officer_enrols_a_security_key_and_signs_in_with_it(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    key = SoftKey()
    assert enrol_with_key(client, token, key).status_code == 302
    assert actions(app) == [("enrolled", {}), ("factor_added", {"factor": "webauthn"})]
    assert officer_row(app).totp_secret is None
    with app.app_context():
        stored = get_session().scalars(select(OfficerCredential)).one()
        assert stored.credential_id == b64url(key.credential_id)
        assert stored.transports == ["usb"]

    page = factor_page(client)
    options = options_of(page)
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(key.credential_id)]
    assert 'autocomplete="one-time-code"' not in page  # no authenticator app was set up
    signed = client.post(
        "/console/sign-in/factor", data=factor_form(page, credential=key.get(options, ORIGIN))
    )
    assert signed.status_code == 302
    assert actions(app)[-1] == ("sign_in", {"factor": "webauthn"})
    with app.app_context():
        assert get_session().scalars(select(OfficerCredential)).one().sign_count == 1
    # The same challenge does not serve twice, even with a fresh signature, in another browser.
    other = app.test_client()
    again = other.post(
        "/console/sign-in/factor",
        data={
            **factor_form(page, credential=key.get(options, ORIGIN)),
            "pre_csrf_token": password_form(other)["pre_csrf_token"],
        },
    )
    assert again.status_code == 401


def test_an_assertion_that_does_not_verify_does_not_sign_in(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    key = SoftKey()
    enrol_with_key(client, token, key)
    forged: list[Callable[[dict[str, Any]], str]] = [
        lambda options: key.get(options, "https://evil.example"),
        lambda options: key.get({**options, "challenge": b64url(b"x" * 32)}, ORIGIN),
        lambda options: key.get(options, ORIGIN, signer=SoftKey()),
        lambda options: SoftKey().get(options, ORIGIN),
    ]
    for answer in forged:
        page = factor_page(client)
        refused = client.post(
            "/console/sign-in/factor", data=factor_form(page, credential=answer(options_of(page)))
        )
        assert refused.status_code == 401
        assert "did not answer as registered" in refused.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    failures = [c for action, c in actions(app) if action == "sign_in_failed"]
    assert failures == [{"step": "webauthn"}] * 4


def test_a_key_registered_by_someone_else_is_refused(app: Flask) -> None:
    first, second = new_officer(app, "Drafter"), new_officer(app, "Approver", approver=True)
    key = SoftKey()
    assert enrol_with_key(app.test_client(), first, key).status_code == 302
    refused = enrol_with_key(app.test_client(), second, key)
    assert refused.status_code == 409
    assert "already registered" in refused.get_data(as_text=True)
    assert officer_row(app, "Approver").password_hash is None
    assert app.test_client().get(f"/console/enrol/{second}").status_code == 200
    with app.app_context():
        assert len(get_session().scalars(select(OfficerCredential)).all()) == 1


def test_a_public_url_with_its_default_port_accepts_the_browsers_origin(app: Flask) -> None:
    app.extensions["haven.settings"].public_url = "https://haven.example:443"
    token = new_officer(app)
    client = app.test_client()
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    options = options_of(page)
    assert options["rp"]["id"] == "haven.example"
    done = client.post(
        f"/console/enrol/{token}",
        data={
            "state": form_value(page, "state"),
            "pre_csrf_token": pre_csrf(page),
            "password": PASSWORD,
            "password_again": PASSWORD,
            # A browser never writes the default port in an origin.
            "credential": SoftKey().register(options, "https://haven.example"),
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)


def test_a_registration_that_does_not_verify_gets_a_plain_message(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    refused = client.post(
        f"/console/enrol/{token}",
        data={
            "state": form_value(page, "state"),
            "pre_csrf_token": pre_csrf(page),
            "password": PASSWORD,
            "password_again": PASSWORD,
            "credential": SoftKey().register(options_of(page), "https://evil.example"),
        },
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert (
        '<p class="error">The security key&#39;s answer could not be verified. Try again, or '
        "use the authenticator app.</p>"
    ) in text
    assert "evil.example" not in text
    assert officer_row(app).password_hash is None
