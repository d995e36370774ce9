"""The web form's double opt-in: a one-time code by SMS, then the code typed back.

The form says nothing about whether a number is subscribed already: anyone can type anyone's
number, so what the number holds is only looked at once the code proves the phone is theirs.
Codes are 6 digits, stored only as a slow hash, work for 10 minutes and 5 tries, and a newer
code replaces an older one. Sending them is limited per number and per client (SMS pumping).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import secrets
from collections.abc import Sequence

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from alerts.phones import to_e164
from alerts.providers import SmsProvider
from alerts.subscriptions import keywords, replies, service, store
from alerts.subscriptions.replies import Reply
from alerts.subscriptions.schemas import SubscribeForm
from alerts.subscriptions.tokens import Pending
from geo.errors import GeoError
from geo.locations import Location, point_location
from haven.db import utcnow, write
from haven.errors import Conflict, HavenError, InvalidInput, Locked
from haven.languages import LANGUAGES
from haven.ratelimit import Throttle

log = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_MINUTES = 10
CODE_ATTEMPTS = 5
# Phone numbers the web form sends codes to: the US and its territories. Codes cost money per
# message, and SMS pumping fraud targets premium numbers abroad; Haven's alerts are US-only.
SMS_REGIONS = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
# The flood limits' counters: codes to subscribe and codes to unsubscribe (unsubscribe.py)
# share them, so that no door adds to the texts one number or one client can cause.
CODE_PER_CLIENT_SCOPE = "subscribe-code-client"
CODE_PER_PHONE_SCOPE = "subscribe-code-phone"

# Codes have only 20 bits, so the hash is slow (OWASP's Argon2id minimum) and guessing online
# is capped at CODE_ATTEMPTS per code and a few codes per hour per number.
_codes = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_CODE_HASH = _codes.hash("000000")


class WrongCode(InvalidInput):
    """The code is not the one sent; `details["left"]` says how many tries remain."""

    code = "wrong_code"


class CodeLocked(Locked):
    """Too many wrong codes: this code no longer works."""

    code = "code_locked"


class CodeExpired(HavenError):
    """The code's ten minutes are over."""

    status = 410
    code = "code_expired"


class CodeUsed(Conflict):
    """The code was used already, or a newer code replaced it."""

    code = "code_used"


class SmsNotSent(HavenError):
    """The provider did not take the code's text message."""

    status = 502
    code = "sms_not_sent"


def read_phone(text: str) -> str:
    """A typed mobile number as E.164, or InvalidInput (code phone): a valid number of the US
    or a US territory, the only numbers the web pages text codes to."""
    try:
        phone = to_e164(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="phone") from exc
    if phonenumbers.region_code_for_number(phonenumbers.parse(phone)) not in SMS_REGIONS:
        raise InvalidInput("This is not a US number.", code="phone")
    return phone


def read_form(form: SubscribeForm) -> tuple[str, list[Location], str]:
    """The form's phone number (E.164), places and language, or InvalidInput naming the field.

    Error codes: phone, places_missing, too_many_places, unknown_zip, bad_zip, bad_point,
    language.
    """
    phone = read_phone(form.phone)
    places: list[Location] = []
    for word in keywords.split_words(form.zips):
        match = keywords.ZIP_RE.fullmatch(word)
        if match is None:
            raise InvalidInput(
                f"{word!r} is not a ZIP code", code="bad_zip", details={"zip": keywords.echo(word)}
            )
        places.append(service.resolve_zip(match[1]))
    for index, (lat, lon) in enumerate(form.points):
        if not lat and not lon:
            continue
        try:
            places.append(point_location(float(lat), float(lon)))
        except (ValueError, GeoError) as exc:
            raise InvalidInput(str(exc), code="bad_point", details={"index": index}) from exc
    unique = service.new_places([], places)
    if not unique:
        raise InvalidInput("Give at least one ZIP code or point.", code="places_missing")
    if len(unique) > service.MAX_PLACES:
        raise InvalidInput(
            f"Give at most {service.MAX_PLACES} places.",
            code="too_many_places",
            details={"max": service.MAX_PLACES},
        )
    if form.language not in LANGUAGES:
        raise InvalidInput(f"unsupported language {form.language!r}", code="language")
    return phone, unique, form.language


def new_code() -> str:
    """A fresh one-time code of CODE_DIGITS digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str) -> str:
    """The stored form of a one-time code: its slow hash."""
    return _codes.hash(code)


def request_code(
    *,
    session: Session,
    phone: str,
    places: Sequence[Location],
    language: str,
    client: str,
    throttle: Throttle,
    limits: service.Limits,
    sms: SmsProvider,
) -> Pending:
    """Text a one-time code to `phone` for a web subscription; the pending subscription.

    Nothing enters the audience yet, and nothing here says whether the number is already
    subscribed (anyone can type anyone's number). Limited per number and per client (SMS
    pumping); a newer code replaces an older one.
    """
    service.spend(
        throttle,
        limits.code_per_client,
        scope=CODE_PER_CLIENT_SCOPE,
        subject=client,
        per="client",
    )
    service.spend(
        throttle, limits.code_per_phone, scope=CODE_PER_PHONE_SCOPE, subject=phone, per="phone"
    )
    code = new_code()
    now = utcnow()

    def run() -> int:
        with write(session):
            subscriber, _ = service.lock_or_create(
                session, phone, language=language, status="pending"
            )
            store.retire_verifications(session=session, subscriber_id=subscriber.id, at=now)
            verification = store.add_verification(
                session=session,
                subscriber_id=subscriber.id,
                code_hash=hash_code(code),
                expires_at=now + datetime.timedelta(minutes=CODE_MINUTES),
            )
        return verification.id

    verification_id = service.retrying(run)
    text = replies.render(Reply("code", language, values={"code": code, "minutes": CODE_MINUTES}))
    result = sms.send_sms(
        to=phone, body=text, validity_seconds=CODE_MINUTES * 60, status_callback=None
    )
    if result.outcome != "accepted":
        with write(session):
            verification = store.get_verification(
                session=session, verification_id=verification_id, for_update=True
            )
            if verification is not None and verification.used_at is None:
                verification.used_at = utcnow()
        log.warning("subscription code not sent: %s %s", result.outcome, result.error_code)
        raise SmsNotSent(
            "The code could not be sent to this number.", details={"error": result.error_code}
        )
    return Pending(verification_id, tuple(places), language, phone[-4:])


@dataclasses.dataclass(frozen=True)
class Subscribed:
    """A confirmed subscription: the number, the places it now has, its language."""

    phone: str
    places: tuple[Location, ...]
    language: str


def check_code(code_hash: str, code: str) -> bool:
    """Whether `code` (spaces and other non-digits ignored) is the one `code_hash` holds.
    An empty hash is checked against a dummy one, so that it takes as long, and is False."""
    digits = "".join(c for c in code if c.isdigit())
    try:
        return _codes.verify(code_hash or _DUMMY_CODE_HASH, digits) and bool(code_hash)
    except (VerificationError, InvalidHashError):
        return False


def verify_code(*, session: Session, pending: Pending, code: str, sms: SmsProvider) -> Subscribed:
    """Check the one-time code; if right, the subscription becomes active with its places.

    Errors (codes): wrong_code (details: tries left), code_locked after CODE_ATTEMPTS wrong
    tries, code_expired, code_used (used or replaced by a newer code), too_many_places.
    A confirmed subscription is answered with the carriers' confirmation text.
    """
    found = store.get_verification(session=session, verification_id=pending.verification_id)
    # The slow hash runs outside the write transaction; the state is checked again inside.
    right = check_code(found.code_hash if found else "", code)
    now = utcnow()
    outcome: HavenError | Subscribed
    with write(session):
        verification = store.get_verification(
            session=session, verification_id=pending.verification_id, for_update=True
        )
        if verification is None or (
            verification.used_at is not None and verification.attempts < CODE_ATTEMPTS
        ):
            outcome = CodeUsed("This code was used, or replaced by a newer one.")
        elif verification.attempts >= CODE_ATTEMPTS:
            outcome = CodeLocked("Too many wrong codes. Ask for a new code.")
        elif verification.expires_at <= now:
            outcome = CodeExpired("This code has expired. Ask for a new code.")
        elif not right:
            verification.attempts += 1
            left = CODE_ATTEMPTS - verification.attempts
            outcome = (
                WrongCode("That code is not right.", details={"left": left})
                if left
                else CodeLocked("Too many wrong codes. Ask for a new code.")
            )
        else:
            verification.used_at = now
            # A right code that cannot be honoured (too many places) is spent all the same.
            outcome = _confirm(session, verification.subscriber_id, pending)
    if isinstance(outcome, HavenError):
        raise outcome
    text = replies.render(
        Reply("subscribed", outcome.language, replies.place_names(outcome.places))
    )
    result = sms.send_sms(to=outcome.phone, body=text, validity_seconds=None, status_callback=None)
    if result.outcome != "accepted":
        log.warning("subscription confirmation not sent: %s %s", result.outcome, result.error_code)
    return outcome


def _confirm(session: Session, subscriber_id: int, pending: Pending) -> Subscribed | HavenError:
    subscriber = store.get_subscriber(session=session, subscriber_id=subscriber_id, for_update=True)
    assert subscriber is not None
    assert subscriber.phone is not None
    held = store.fetch_locations(session=session, subscriber_id=subscriber.id)
    new = service.new_places(held, pending.places)
    if len(held) + len(new) > service.MAX_PLACES:
        return InvalidInput(
            f"At most {service.MAX_PLACES} places; this number has {len(held)} already.",
            code="too_many_places",
            details={"max": service.MAX_PLACES, "have": len(held)},
        )
    store.set_subscriber_language(session=session, subscriber=subscriber, language=pending.language)
    service.activate(session, subscriber)
    service.add_places(session, subscriber.id, new)
    return Subscribed(
        subscriber.phone, tuple(service.as_location(r) for r in held) + tuple(new), pending.language
    )
