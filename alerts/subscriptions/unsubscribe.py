"""Unsubscribing on the web: a number, a one-time code by SMS, then the code.

Anyone can type anyone's number, so until the right code is typed back nothing says whether
the number gets alerts: every valid number gets the same page, spends the same flood limits,
and gets the same answers to wrong codes, as fast. Only a number that gets alerts is texted a
code, and that is done after the page has gone back (`Background`), so not even the time the
page takes tells. The right code ends everything the number gets, through the same function
as STOP (`service.opt_out`), so that the two doors cannot drift apart.

Codes are those of the web form (verification.py): 6 digits, stored only as a slow hash,
10 minutes, and the newest code of a number is the one that works. Codes to subscribe and to
unsubscribe share the flood limits per number and per client. Tries are counted per number
(under a keyed hash) in the throttle, the same for every number: 5 wrong codes, and no code
is taken for that number for 10 minutes. Counting per request would let one person ask for
several codes and spend each request's tries on the newest code.
"""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from alerts.providers import SmsProvider
from alerts.subscriptions import replies, service, store, verification
from alerts.subscriptions.replies import Reply
from alerts.subscriptions.tokens import PendingUnsubscribe
from alerts.subscriptions.verification import (
    CODE_ATTEMPTS,
    CODE_MINUTES,
    CodeExpired,
    CodeLocked,
    CodeUsed,
    WrongCode,
)
from haven.db import utcnow, write
from haven.errors import HavenError, Locked
from haven.ratelimit import Throttle

log = logging.getLogger(__name__)

ATTEMPT_SCOPE = "unsubscribe-code-attempt"


class Background(Protocol):
    """Runs work after the response has gone, with a database session of its own."""

    def submit(self, work: Callable[[Session], None]) -> None:
        """Run `work(session)` soon, in another thread."""
        ...


def request_code(
    *,
    phone: str,
    client: str,
    throttle: Throttle,
    limits: service.Limits,
    sms: SmsProvider,
    background: Background,
) -> PendingUnsubscribe:
    """Count a request for a code to unsubscribe `phone` (E.164) and have `background` text
    the code if the number gets alerts; the pending unsubscription, whatever it gets.

    RateLimited (per phone or client) when the code limits are spent: the same limits as the
    web form's codes.
    """
    service.spend(
        throttle,
        limits.code_per_client,
        scope=verification.CODE_PER_CLIENT_SCOPE,
        subject=client,
        per="client",
    )
    service.spend(
        throttle,
        limits.code_per_phone,
        scope=verification.CODE_PER_PHONE_SCOPE,
        subject=phone,
        per="phone",
    )
    asked_at = utcnow().replace(microsecond=0)
    background.submit(functools.partial(send_code, phone=phone, sms=sms, asked_at=asked_at))
    return PendingUnsubscribe(phone, secrets.token_urlsafe(16), asked_at)


def send_code(
    session: Session, *, phone: str, sms: SmsProvider, asked_at: datetime.datetime
) -> None:
    """Text a one-time code to unsubscribe `phone`, if it gets alerts (an active subscriber);
    send nothing otherwise. A newer code replaces an older one. Runs in the background."""
    found = store.get_subscriber_by_phone(session=session, phone=phone)
    if found is None or found.status != "active":
        return
    code = verification.new_code()
    code_hash = verification.hash_code(code)  # slow: outside the write transaction
    with write(session):
        subscriber = store.get_subscriber_by_phone(session=session, phone=phone, for_update=True)
        if subscriber is None or subscriber.status != "active":
            return
        store.retire_verifications(session=session, subscriber_id=subscriber.id, at=utcnow())
        store.add_verification(
            session=session,
            subscriber_id=subscriber.id,
            code_hash=code_hash,
            expires_at=asked_at + datetime.timedelta(minutes=CODE_MINUTES),
        )
        language = subscriber.language
    text = replies.render(
        Reply("unsubscribe_code", language, values={"code": code, "minutes": CODE_MINUTES})
    )
    result = sms.send_sms(
        to=phone, body=text, validity_seconds=CODE_MINUTES * 60, status_callback=None
    )
    if result.outcome != "accepted":
        # Never the number: the log must not say who asked to leave.
        log.warning("unsubscribe code not sent: %s %s", result.outcome, result.error_code)


def confirm(
    *,
    session: Session,
    pending: PendingUnsubscribe,
    code: str,
    throttle: Throttle,
    sms: SmsProvider,
) -> None:
    """Check the code; if right, the number gets nothing more (as after STOP) and is texted
    the opt-out confirmation.

    Errors (codes): code_expired (CODE_MINUTES after it was asked for), code_locked (after
    CODE_ATTEMPTS wrong codes for this number, whichever request they came with, for
    CODE_MINUTES), wrong_code (details: tries left), and, only for
    the right code, code_used (used already, or replaced by a newer code). Every number
    gets the same answers to a wrong code.
    """
    now = utcnow()
    if now - pending.asked_at >= datetime.timedelta(minutes=CODE_MINUTES):
        raise CodeExpired("This code has expired. Ask for a new code.")
    try:
        # Counted before the code is judged, so that tries sent at once cannot pass the cap;
        # per number (the throttle keeps only a keyed hash), not per request: every request
        # for a number is judged against the same newest code.
        attempt = throttle.spend_attempt(
            ATTEMPT_SCOPE, pending.phone, allowed=CODE_ATTEMPTS, minutes=CODE_MINUTES
        )
    except Locked:
        raise CodeLocked("Too many wrong codes. Ask for a new code.") from None
    newest = store.get_newest_verification(session=session, phone=pending.phone)
    # A number with no code is checked against a dummy hash: as slow, and never right.
    if not verification.check_code(newest.code_hash if newest else "", code):
        throttle.record_failure(
            ATTEMPT_SCOPE,
            pending.phone,
            attempt=attempt,
            allowed=CODE_ATTEMPTS,
            minutes=CODE_MINUTES,
        )
        left = CODE_ATTEMPTS - attempt
        if left <= 0:
            raise CodeLocked("Too many wrong codes. Ask for a new code.")
        raise WrongCode("That code is not right.", details={"left": left})
    assert newest is not None
    refused: HavenError | None = None
    with write(session):
        verification_row = store.get_verification(
            session=session, verification_id=newest.id, for_update=True
        )
        assert verification_row is not None
        if verification_row.used_at is not None:
            refused = CodeUsed("This code was used, or replaced by a newer one.")
        elif verification_row.attempts >= CODE_ATTEMPTS:
            refused = CodeLocked("Too many wrong codes. Ask for a new code.")
        elif verification_row.expires_at <= now:
            refused = CodeExpired("This code has expired. Ask for a new code.")
        else:
            verification_row.used_at = now
    if refused is not None:
        raise refused
    stopped = service.opt_out(session=session, phone=pending.phone)
    text = replies.render(Reply("opted_out", stopped.language))
    result = sms.send_sms(to=pending.phone, body=text, validity_seconds=None, status_callback=None)
    if result.outcome != "accepted":
        log.warning("unsubscribe confirmation not sent: %s %s", result.outcome, result.error_code)
