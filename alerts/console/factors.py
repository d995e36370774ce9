"""An officer's console secrets: the password, and a second factor, WebAuthn or TOTP.

Passwords are kept as argon2 hashes. A WebAuthn credential (security key or passkey) is
registered and checked with py_webauthn; the relying party is the host of `public_url`, the
only origin accepted is `public_url`'s. A WebAuthn challenge never sits in a cookie: it travels
in a short-lived value signed with the app's key and bound to one enrolment link or one
sign-in (`sign_state` / `read_state`). A TOTP key is shown to the officer as text and as a
QR code of its otpauth:// URI (`totp_qr_svg`); a code (an authenticator app, the fallback) is
accepted in the step before or after the current one, and only once. Credentials are stored
through alerts/console/store.py.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pyotp.exceptions import OTPVerificationError
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from alerts.console import store
from alerts.models import Officer, OfficerCredential
from haven.db import utcnow
from haven.errors import Conflict, InvalidInput
from haven.settings import Settings

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"https": 443, "http": 80}

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 takes any length; this only bounds the work a request can ask for
ISSUER = "Haven"

_passwords = PasswordHasher()
# Compared against when the officer is unknown, so both answers take as long.
_DUMMY_HASH = _passwords.hash("no officer has this password")


# Passwords


def check_new_password(password: str, again: str, *, officer: Officer, agency: str) -> None:
    """422 unless `password` is acceptable: at least 12 characters, typed the same twice, and
    not the officer's name or agency (in any case, with or without spaces)."""
    if password != again:
        raise InvalidInput("The two passwords are not the same. Type the same password twice.")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"The password is too long: use at most {MAX_PASSWORD} characters.")
    squeezed = "".join(password.lower().split())
    for word in (officer.name, agency):
        if squeezed == "".join(word.lower().split()):
            raise InvalidInput("The password must not be your name or your agency's name.")


def hash_password(password: str) -> str:
    """The stored form of a password (argon2id)."""
    return _passwords.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one stored; always does the slow hash, even when nothing is
    stored, so a missing officer and a wrong password take the same time."""
    try:
        return _passwords.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def encode_challenge(challenge: bytes) -> str:
    """A WebAuthn challenge as text for signed state (base64url)."""
    return base64.urlsafe_b64encode(challenge).decode()


def decode_challenge(text: str) -> bytes:
    """The challenge `encode_challenge` wrote."""
    return base64.urlsafe_b64decode(text.encode())


# Signed short-lived state (WebAuthn challenges, a TOTP secret being set up, a half sign-in)


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"haven-console:{purpose}")


def sign_state(settings: Settings, purpose: str, data: dict[str, Any]) -> str:
    """`data`, signed for `purpose` with the app's key (readable by the browser, not forgeable)."""
    return _serializer(settings, purpose).dumps(data)


def read_state(
    settings: Settings, purpose: str, value: str, *, max_age: int
) -> dict[str, Any] | None:
    """What `sign_state` signed for `purpose`, if the signature is good and it is at most
    `max_age` seconds old; None otherwise."""
    try:
        data = _serializer(settings, purpose).loads(value, max_age=max_age)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


# TOTP


def new_totp_secret() -> str:
    """A fresh TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32()


def totp_uri(secret: str, *, officer: Officer, agency: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in, or from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=f"{officer.name} ({agency})", issuer_name=ISSUER
    )


def totp_qr_svg(uri: str) -> str:
    """`uri` as a QR code in SVG markup, for inlining in a page: black on a white square with
    the quiet zone a scanner needs, sized by CSS (no width or height of its own), no script."""
    return str(
        segno.make(uri, micro=False).svg_inline(
            dark="#000", light="#fff", omitsize=True, svgclass=None, lineclass=None
        )
    )


def totp_timecode(secret: str, code: str) -> int | None:
    """The time step `code` is right for (the current one, or one step either side), or None.
    The caller must refuse a time step already used."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, valid_window=1)
    except OTPVerificationError:
        return None


# WebAuthn


def relying_party(settings: Settings) -> tuple[str, str]:
    """The RP ID (public_url's host) and the expected origin (public_url's origin)."""
    parts = urlsplit(settings.public_url)
    scheme, host = parts.scheme.lower(), parts.hostname or "localhost"
    # A browser's origin omits a default port (https://host:443 is https://host), and any
    # user name or password a URL may carry.
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{parts.port}"
    return host, f"{scheme}://{netloc}"


def registration_options(settings: Settings, *, officer: Officer, agency: str) -> tuple[str, bytes]:
    """WebAuthn registration options for the browser (JSON) and their challenge."""
    rp_id, _ = relying_party(settings)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="Haven",
        user_name=f"{officer.name} ({agency})",
        user_id=f"officer:{officer.id}".encode(),
        user_display_name=officer.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), options.challenge


def register_credential(
    *, session: Session, settings: Settings, officer: Officer, challenge: bytes, response: str
) -> OfficerCredential:
    """Verify the browser's registration `response` (JSON) against `challenge` and store the
    credential (inside the caller's write transaction). 422 when it does not verify; 409 when
    the credential is already registered, to this officer or another."""
    rp_id, origin = relying_party(settings)
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError) as exc:
        # The library's reason is for the log; the officer gets a plain sentence.
        log.info("a WebAuthn registration did not verify: %s", exc)
        raise InvalidInput(
            "The security key's answer could not be verified. Try again, or use the "
            "authenticator app.",
            code="webauthn_failed",
        ) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if store.get_credential(session=session, credential_id=credential_id) is not None:
        raise Conflict(
            "This security key or passkey is already registered to an officer. Use another "
            "one, or the authenticator app.",
            code="credential_taken",
        )
    return store.add_credential(
        session=session,
        officer_id=officer.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(response),
        now=utcnow(),
    )


def _transports(response: str) -> list[str]:
    try:
        found = json.loads(response).get("response", {}).get("transports", [])
    except (ValueError, AttributeError):
        return []
    known = {t.value for t in AuthenticatorTransport}
    return (
        [t for t in found if isinstance(t, str) and t in known] if isinstance(found, list) else []
    )


def authentication_options(
    settings: Settings, credentials: list[OfficerCredential]
) -> tuple[str, bytes]:
    """WebAuthn sign-in options allowing the officer's `credentials` (JSON), and their challenge."""
    rp_id, _ = relying_party(settings)
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(c.credential_id),
                transports=[AuthenticatorTransport(t) for t in c.transports],
            )
            for c in credentials
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def check_assertion(
    *,
    settings: Settings,
    credentials: list[OfficerCredential],
    challenge: bytes,
    response: str,
) -> OfficerCredential | None:
    """The officer's credential that signed `response` (JSON) over `challenge`, its sign
    count moved on (in the caller's transaction), or None when the answer does not verify or
    came from a credential that is not theirs."""
    try:
        sent_id = json.loads(response).get("id")
    except (ValueError, AttributeError):
        return None
    credential = next((c for c in credentials if c.credential_id == sent_id), None)
    if credential is None:
        return None
    rp_id, origin = relying_party(settings)
    try:
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=credential.public_key,
            credential_current_sign_count=credential.sign_count,
        )
    except (WebAuthnException, ValueError):
        return None
    credential.sign_count = verified.new_sign_count
    return credential
