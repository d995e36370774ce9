"""Subscribing by SMS keyword; opting out and back in; the rules every door shares.

Routes and the dispatcher call these functions (the web form's code lives in verification.py,
channels in channels.py). The rules, wherever a subscription comes from:

- at most five places (geo.locations.MAX_LOCATIONS_PER_SUBSCRIBER) per subscriber;
- a subscriber's places enter the audience only once the subscription is confirmed: texting in
  confirms itself; the web form needs the one-time code sent to the phone (double opt-in);
- an opt-out (STOP, or Twilio's error 21610) takes every place out of the audience until the
  person opts back in (START, JOIN, or a confirmed web form). Nothing else re-subscribes them.

A refused request changes nothing: each operation is one transaction that rolls back whole.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from limits import parse_many
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import store as alerts_store
from alerts.models import Subscriber, SubscriberLocation
from alerts.phones import to_e164
from alerts.subscriptions import keywords, replies, store
from alerts.subscriptions.replies import Reply
from geo.errors import GeoError
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER, Location, zip_location
from haven.db import utcnow, write
from haven.errors import InvalidInput, TooManyRequests
from haven.languages import LANGUAGES
from haven.ratelimit import Throttle
from haven.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PLACES = MAX_LOCATIONS_PER_SUBSCRIBER


@dataclasses.dataclass(frozen=True)
class Limits:
    """Flood limits (the `limits` notation; several separated by ';')."""

    code_per_phone: str
    code_per_client: str
    channel_per_client: str
    channel_per_destination: str
    sms_per_sender: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits in force (haven/settings.py: `subscription_<name>_rate`)."""
        return cls(
            code_per_phone=settings.subscription_code_per_phone_rate,
            code_per_client=settings.subscription_code_per_client_rate,
            channel_per_client=settings.subscription_channel_per_client_rate,
            channel_per_destination=settings.subscription_channel_per_destination_rate,
            sms_per_sender=settings.subscription_sms_per_sender_rate,
        )


class RateLimited(TooManyRequests):
    """Too many codes or subscriptions; `details` says per what ("phone", "client",
    "destination") and after how many seconds to try again."""

    code = "rate_limited"


# Flood control


def spend(throttle: Throttle, limits: str, *, scope: str, subject: str, per: str) -> None:
    """Count one action by `subject` against every limit in `limits`, or raise RateLimited."""
    items = parse_many(limits)
    key = throttle.pseudonym(subject)
    for item in items:
        if not throttle.limiter.test(item, scope, key):
            seconds = item.get_expiry()
            raise RateLimited(
                f"Too many requests from this {per}. Please wait and try again.",
                details={"per": per, "seconds": seconds},
            )
    for item in items:
        throttle.limiter.hit(item, scope, key)


# Places


def resolve_zip(zip_code: str) -> Location:
    """A ZIP code's place, or InvalidInput (code unknown_zip) naming it."""
    try:
        return zip_location(zip_code)
    except GeoError as exc:
        raise InvalidInput(str(exc), code="unknown_zip", details={"zip": zip_code}) from exc


def same_place(a: Location | SubscriberLocation, b: Location) -> bool:
    zip_a = a.zip_code if isinstance(a, Location) else a.zip
    if zip_a or b.zip_code:
        return zip_a == b.zip_code
    return round(a.lat, 5) == round(b.lat, 5) and round(a.lon, 5) == round(b.lon, 5)


def as_location(row: SubscriberLocation) -> Location:
    return Location(lat=row.lat, lon=row.lon, zip_code=row.zip)


def new_places(held: Sequence[SubscriberLocation], wanted: Sequence[Location]) -> list[Location]:
    new: list[Location] = []
    for place in wanted:
        if not any(same_place(h, place) for h in held) and not any(
            same_place(n, place) for n in new
        ):
            new.append(place)
    return new


def add_places(session: Session, subscriber_id: int, places: Sequence[Location]) -> None:
    if places:
        alerts_store.add_locations(
            session=session,
            rows=[
                {"subscriber_id": subscriber_id, "lat": p.lat, "lon": p.lon, "zip": p.zip_code}
                for p in places
            ],
        )


# Subscribers


def retrying(operation: Callable[[], T]) -> T:
    """Run a write once more if a concurrent one created the same phone number first."""
    try:
        return operation()
    except IntegrityError:
        return operation()


def lock_or_create(
    session: Session, phone: str, *, language: str, status: str
) -> tuple[Subscriber, bool]:
    subscriber = store.get_subscriber_by_phone(session=session, phone=phone, for_update=True)
    if subscriber is not None:
        return subscriber, False
    created = store.add_subscriber(session=session, phone=phone, language=language, status=status)
    return created, True


def activate(session: Session, subscriber: Subscriber) -> None:
    """Make a subscriber active; one who had opted out (or could not be reached) gets their
    places back in the audience."""
    if subscriber.status != "active":
        alerts_store.set_subscriber_locations_active(
            session=session, subscriber_id=subscriber.id, active=True
        )
    subscriber.status = "active"


def deactivate(session: Session, subscriber: Subscriber) -> None:
    """Opt a subscriber out: places out of the audience, unused codes retired."""
    if subscriber.status != "opted_out":
        alerts_store.set_subscriber_locations_active(
            session=session, subscriber_id=subscriber.id, active=False
        )
        subscriber.status = "opted_out"
    store.retire_verifications(session=session, subscriber_id=subscriber.id, at=utcnow())


def opt_out(*, session: Session, phone: str) -> Subscriber:
    """Opt a number out (STOP, or Twilio's 21610): its places leave the audience until START.

    A number Haven has not seen is remembered as opted out, so no later import or form can text
    it before it says START. Commits its own transaction: call it outside any `write` block.
    """
    number = to_e164(phone)

    def run() -> Subscriber:
        with write(session):
            subscriber, _ = lock_or_create(session, number, language="en", status="opted_out")
            deactivate(session, subscriber)
        return subscriber

    return retrying(run)


def opt_in(*, session: Session, phone: str) -> Reply:
    """START: an opted-out number gets its places back. Answers which places it now has."""
    with write(session):
        subscriber = store.get_subscriber_by_phone(session=session, phone=phone, for_update=True)
        if subscriber is None:
            return Reply("zip_needed")
        activate(session, subscriber)
        places = [
            as_location(r)
            for r in store.fetch_locations(session=session, subscriber_id=subscriber.id)
        ]
    if not places:
        return Reply("zip_needed", subscriber.language)
    return Reply("subscribed", subscriber.language, replies.place_names(places))


class _Refused(Exception):
    """Raised inside a write to roll it back and answer with `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def join(*, session: Session, phone: str, zips: Sequence[str]) -> Reply:
    """JOIN/AMBER <ZIP>...: subscribe a number for up to five ZIP codes, in one message or many.

    Texting in is the opt-in, so the places enter the audience at once. A ZIP code it already
    has changes nothing; an unknown ZIP code, or one too many, refuses the whole message.
    """
    if not zips:
        language = _language_of(session, phone)
        return Reply("zip_needed", language)
    wanted: list[Location] = []
    for zip_code in zips:
        try:
            wanted.append(zip_location(zip_code))
        except GeoError:
            return Reply("unknown_zip", _language_of(session, phone), values={"zip": zip_code})

    def run() -> Reply:
        with write(session):
            subscriber, _ = lock_or_create(session, phone, language="en", status="active")
            held = store.fetch_locations(session=session, subscriber_id=subscriber.id)
            new = new_places(held, wanted)
            was_active = subscriber.status == "active"
            if not new and was_active and held:
                return Reply("already", subscriber.language, _names_of(held, wanted))
            if len(held) + len(new) > MAX_PLACES:
                raise _Refused(
                    Reply(
                        "too_many",
                        subscriber.language,
                        replies.place_names([as_location(r) for r in held]),
                        {"max": MAX_PLACES},
                    )
                )
            activate(session, subscriber)
            add_places(session, subscriber.id, new)
            everything = [as_location(r) for r in held] + new
        return Reply("subscribed", subscriber.language, replies.place_names(everything))

    try:
        return retrying(run)
    except _Refused as refused:
        return refused.reply


def _names_of(held: Sequence[SubscriberLocation], wanted: Sequence[Location]) -> tuple[str, ...]:
    return replies.place_names(
        [as_location(r) for r in held if any(same_place(r, w) for w in wanted)]
    )


def set_language(*, session: Session, phone: str, language: str) -> Reply:
    """LANG <code>: the language of every later message to this number."""

    def run() -> Reply:
        with write(session):
            # A number not yet subscribed keeps its choice for when it sends JOIN.
            subscriber, _ = lock_or_create(session, phone, language=language, status="pending")
            store.set_subscriber_language(session=session, subscriber=subscriber, language=language)
        return Reply("language", language, values={"language": _language_name(language)})

    return retrying(run)


def _language_name(code: str) -> str:
    from haven.i18n import ALL

    return ALL[code].name


def _language_of(session: Session, phone: str) -> str:
    subscriber = store.get_subscriber_by_phone(session=session, phone=phone)
    return subscriber.language if subscriber is not None else "en"


def handle_sms(
    *, session: Session, phone: str, body: str, throttle: Throttle, limits: Limits
) -> Reply | None:
    """Act on one incoming text message; the reply to send, or None to send none.

    STOP and START are always honoured. Anything else past a sender's flood limit gets no
    reply, so that Haven and an automatic responder cannot text each other forever.
    """
    command = keywords.parse(body)
    if command.kind == "stop":
        subscriber = opt_out(session=session, phone=phone)
        return Reply("opted_out", subscriber.language)
    if command.kind == "start":
        return opt_in(session=session, phone=phone)
    try:
        spend(throttle, limits.sms_per_sender, scope="sms-inbound", subject=phone, per="phone")
    except RateLimited:
        log.warning("inbound SMS: a sender passed %s; not replying", limits.sms_per_sender)
        return None
    if command.kind == "join":
        if command.bad is not None:
            return Reply("not_a_zip", _language_of(session, phone), values={"text": command.bad})
        return join(session=session, phone=phone, zips=command.zips)
    if command.kind == "lang":
        if command.language is None:
            return Reply(
                "unknown_language",
                _language_of(session, phone),
                values={"codes": ", ".join(LANGUAGES)},
            )
        return set_language(session=session, phone=phone, language=command.language)
    return Reply("help", _language_of(session, phone))
