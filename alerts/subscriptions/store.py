"""Every query and write of subscriptions. Nothing here commits; `haven.db.write` does.

Locations are only ever added or switched through functions that take numbers from the
`locations` counter (here and in alerts.store), because each process's audience index catches
up by those numbers. Likewise a subscriber is only ever added, or its language changed, here
(or by the importer in alerts.store), taking a number from the `subscriber_languages` counter:
each process's language counts catch up by those.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from alerts.models import Channel, Subscriber, SubscriberLocation, Verification
from alerts.store import LANGUAGE_CHANGES, LOCATIONS
from geo.locations import Location
from haven.db import take_numbers, utcnow

T = TypeVar("T", bound=Select[Any])


def _locked(query: T) -> T:
    # Locked reads must see the row as it is now, not as the session last loaded it.
    return query.with_for_update().execution_options(populate_existing=True)


# Subscribers


def get_subscriber(
    *, session: Session, subscriber_id: int, for_update: bool = False
) -> Subscriber | None:
    """A subscriber by id (locked for the rest of the transaction with `for_update`)."""
    query = select(Subscriber).where(Subscriber.id == subscriber_id)
    return session.scalar(_locked(query) if for_update else query)


def get_subscriber_by_phone(
    *, session: Session, phone: str, for_update: bool = False
) -> Subscriber | None:
    """The subscriber with this E.164 number (locked with `for_update`)."""
    query = select(Subscriber).where(Subscriber.phone == phone)
    return session.scalar(_locked(query) if for_update else query)


def add_subscriber(
    *, session: Session, phone: str | None, language: str, status: str
) -> Subscriber:
    """A new subscriber (its language numbered), flushed so it has its id."""
    (seq,) = take_numbers(session, LANGUAGE_CHANGES)
    subscriber = Subscriber(
        phone=phone,
        language=language,
        language_seq=seq,
        status=status,
        is_tester=False,
        created_at=utcnow(),
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def set_subscriber_language(*, session: Session, subscriber: Subscriber, language: str) -> None:
    """Change a subscriber's language, with a new number for the language counts (none when
    the language stays the same)."""
    if subscriber.language == language:
        return
    (seq,) = take_numbers(session, LANGUAGE_CHANGES)
    subscriber.language, subscriber.language_seq = language, seq


def fetch_locations(*, session: Session, subscriber_id: int) -> list[SubscriberLocation]:
    """Every location of a subscriber, active or not, oldest first."""
    return list(
        session.scalars(
            select(SubscriberLocation)
            .where(SubscriberLocation.subscriber_id == subscriber_id)
            .order_by(SubscriberLocation.id)
        )
    )


def add_pending_locations(
    *, session: Session, subscriber_id: int, places: Sequence[Location]
) -> None:
    """Store places that are not in the audience yet (numbered like every location change).

    `alerts.store.set_subscriber_locations_active` puts them in when the owner confirms.
    """
    numbers = take_numbers(session, LOCATIONS, len(places))
    session.execute(
        insert(SubscriberLocation),
        [
            {
                "subscriber_id": subscriber_id,
                "lat": place.lat,
                "lon": place.lon,
                "zip": place.zip_code,
                "active": False,
                "seq": seq,
            }
            for place, seq in zip(places, numbers, strict=True)
        ],
    )


# One-time codes


def add_verification(
    *, session: Session, subscriber_id: int, code_hash: str, expires_at: datetime.datetime
) -> Verification:
    """A new one-time code, flushed so it has its id."""
    verification = Verification(
        subscriber_id=subscriber_id, code_hash=code_hash, expires_at=expires_at, attempts=0
    )
    session.add(verification)
    session.flush()
    return verification


def get_verification(
    *, session: Session, verification_id: int, for_update: bool = False
) -> Verification | None:
    """A one-time code by id (locked with `for_update`)."""
    query = select(Verification).where(Verification.id == verification_id)
    return session.scalar(_locked(query) if for_update else query)


def get_newest_verification(*, session: Session, phone: str) -> Verification | None:
    """The most recent one-time code of the subscriber with this E.164 number, used or not
    (only the newest can work); None if there is none. One query, whatever the number."""
    return session.scalar(
        select(Verification)
        .join(Subscriber, Subscriber.id == Verification.subscriber_id)
        .where(Subscriber.phone == phone)
        .order_by(Verification.id.desc())
        .limit(1)
    )


def retire_verifications(*, session: Session, subscriber_id: int, at: datetime.datetime) -> None:
    """Mark every unused code of a subscriber used, so that only the newest one works."""
    session.execute(
        update(Verification)
        .where(Verification.subscriber_id == subscriber_id, Verification.used_at.is_(None))
        .values(used_at=at)
    )


# Channels


def add_channel(*, session: Session, subscriber_id: int, url: str, token_hash: str) -> Channel:
    """A new, unconfirmed channel, flushed so it has its id."""
    channel = Channel(
        subscriber_id=subscriber_id,
        url=url,
        status="pending",
        token_hash=token_hash,
        created_at=utcnow(),
    )
    session.add(channel)
    session.flush()
    return channel


def get_channel(*, session: Session, channel_id: int, for_update: bool = False) -> Channel | None:
    """A channel by id (locked with `for_update`)."""
    query = select(Channel).where(Channel.id == channel_id)
    return session.scalar(_locked(query) if for_update else query)


def get_channel_by_token_hash(
    *, session: Session, token_hash: str, for_update: bool = False
) -> Channel | None:
    """The channel whose confirmation token has this hash (locked with `for_update`)."""
    query = select(Channel).where(Channel.token_hash == token_hash)
    return session.scalar(_locked(query) if for_update else query)
