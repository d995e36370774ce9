"""Distributor operations: register, list and remove receivers; record each alert version's
pushes in the outbox; push what is due.

Who gets a version: every receiver whose area shares at least one point with the version's
areas (interiors or boundaries: exact Shapely geometry, no tolerance), every receiver
registered without an area, and every receiver an earlier version of the alert was for (so an
update that moves the area away, and the cancellation, still reach those that had the
alert). Only Actual alerts are pushed: Test and Exercise alerts, like the public CAP route,
reach no distributor.

Pushing: one claim at a time under a lease, in version order for each receiver and alert;
2xx is sent; 5xx, 408, 429 (after its Retry-After), timeouts and connection errors are tried
again after an exponential backoff with full jitter, until the push has had
`Pusher.max_attempts` attempts; any other answer fails it at once. A push the poster never
began (every sender busy until its deadline) is tried again without costing an attempt.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

import shapely
from flask import Flask
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from alerts import store as alerts_store
from alerts.content import StoredArea
from alerts.dispatch.service import Backoff, full_jitter
from alerts.distributors import store
from alerts.distributors.store import PushClaim
from alerts.distributors.webhook import (
    Poster,
    PushOutcome,
    PushResult,
    check_push_url,
    push_target,
    signed_headers,
)
from alerts.models import Alert, Distributor
from alerts.public_cache import RenderCache, alert_key
from alerts.publish import alert_as_sent, cap_document
from alerts.subscriptions.channels import UrlPolicy
from geo.areas import parse_area
from geo.errors import GeoError
from haven import auth
from haven.db import utcnow, write
from haven.errors import Conflict, InvalidInput, NotFound
from haven.metrics import count_push

log = logging.getLogger(__name__)

SECRET_PREFIX = "hvd"  # noqa: S105 - a credential's prefix, not a credential
ERROR_LENGTH = 500  # of an error kept on a push or a distributor
REMOVED = "the distributor was removed"


# Registration


def _area(
    same_codes: list[str] | None, area: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The area as stored (a GeoJSON geometry, or None for everywhere) and its SAME codes."""
    if same_codes and area is not None:
        raise InvalidInput("Give the area as SAME codes or as a GeoJSON area, not both.")
    if not same_codes and area is None:
        return None, []
    try:
        if same_codes:
            parts = [parse_area("same", code) for code in same_codes]
        else:
            parts = [parse_area("geojson", area)]
    except GeoError as exc:
        raise InvalidInput(f"area: {exc}", code="invalid_area") from exc
    geometry = shapely.union_all([part.geometry for part in parts])
    return mapping(geometry), [str(part.source) for part in parts if part.kind == "same"]


def add_distributor(
    *,
    session: Session,
    name: str,
    url: str,
    policy: UrlPolicy,
    same_codes: list[str] | None = None,
    area: dict[str, Any] | None = None,
) -> tuple[Distributor, str]:
    """Register a receiver of CAP pushes for an area (SAME codes, a GeoJSON area, or none:
    every alert); returns it and its signing secret, which is shown only this once.

    InvalidInput for a URL the policy refuses (`check_push_url`) or an unusable area.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("A distributor name is 1 to 100 characters.")
    stored_area, codes = _area(same_codes, area)
    checked = check_push_url(url, policy)
    secret = auth.new_secret(SECRET_PREFIX)
    with write(session):
        found = store.get_distributor_by_name(session=session, name=name)
        if found is not None:
            removed = " (removed)" if found.revoked_at is not None else ""
            raise Conflict(f"A distributor named {name!r} already exists{removed}.")
        distributor = store.save_distributor(
            session=session,
            distributor=Distributor(
                name=name,
                url=checked,
                secret=secret,
                area=stored_area,
                area_codes=codes,
                created_at=utcnow(),
            ),
        )
    log.info("distributor %s registered", name)
    return distributor, secret


def remove_distributor(*, session: Session, name: str) -> int:
    """Stop pushing to a distributor at once: its pushes still to make fail. Returns how many
    there were. Removing twice is harmless."""
    with write(session):
        distributor = store.get_distributor_by_name(session=session, name=name, for_update=True)
        if distributor is None:
            raise NotFound(f"No distributor is named {name!r}.")
        now = utcnow()
        if distributor.revoked_at is None:
            distributor.revoked_at = now
        dropped = store.fail_unfinished(
            session=session, distributor_id=distributor.id, at=now, error=REMOVED
        )
    log.info("distributor %s removed; %d pushes dropped", name, dropped)
    return dropped


@dataclasses.dataclass(frozen=True)
class DistributorSummary:
    """What an operator sees of one distributor in `haven distributor list`."""

    name: str
    url: str
    area: str  # "same", "geojson" or "everywhere"
    same: tuple[str, ...]
    removed: bool
    last_success: datetime.datetime | None
    last_failure: datetime.datetime | None
    last_error: str | None
    pending: int  # pushes still to make (due, being made, or waiting out a backoff)


def list_distributors(*, session: Session) -> list[DistributorSummary]:
    """Every distributor, with its last success and failure and its pushes still to make."""
    pending = store.count_unfinished(session=session)
    return [
        DistributorSummary(
            name=d.name,
            url=d.url,
            area="everywhere" if d.area is None else ("same" if d.area_codes else "geojson"),
            same=tuple(d.area_codes),
            removed=d.revoked_at is not None,
            last_success=d.last_success_at,
            last_failure=d.last_failure_at,
            last_error=d.last_error,
            pending=pending.get(d.id, 0),
        )
        for d in store.fetch_distributors(session=session)
    ]


# The outbox


def _footprint(session: Session, alert: Alert) -> Any:
    """The union of the alert's areas (its agency's jurisdiction if it has none)."""
    areas = [StoredArea.model_validate(area) for area in alert.content.get("areas", [])]
    geometries = [parse_area(a.kind, a.source, a.description).geometry for a in areas]
    if not geometries:
        geometries = [
            shape(alerts_store.get_agency(session=session, agency_id=alert.agency_id).jurisdiction)
        ]
    footprint = shapely.union_all(geometries)
    shapely.prepare(footprint)
    return footprint


def queue_pushes(*, session: Session, alert: Alert, msg_type: str) -> int:
    """Record a push of the alert's current version to every distributor it reaches (module
    docstring), in the caller's transaction: the version and its pushes commit together, or
    neither does. Returns how many."""
    if alert.status != "Actual":
        return 0
    distributors = store.fetch_active_distributors(session=session)
    if not distributors:
        return 0
    earlier = store.fetch_distributor_ids_for_alert(
        session=session, alert_id=alert.id, before_version=alert.version
    )
    try:
        footprint = _footprint(session, alert)
        targets = [
            d.id
            for d in distributors
            if d.id in earlier or d.area is None or footprint.intersects(shape(d.area))
        ]
    except Exception:
        # A push must never hold up the alert itself: better every distributor than none.
        log.exception(
            "alert %s v%s: areas unreadable; pushing to every distributor", alert.id, alert.version
        )
        targets = [d.id for d in distributors]
    store.save_pushes(
        session=session,
        alert_id=alert.id,
        version=alert.version,
        msg_type=msg_type,
        distributor_ids=targets,
        at=utcnow(),
    )
    return len(targets)


# Pushing


@dataclasses.dataclass(frozen=True)
class Pusher:
    """What pushing needs: the public URL (the CAP documents' links, as the public route
    renders them), the URL policy, the poster, how often to try (`backoff` is given the
    attempts so far and says how long to wait), the lease of a claim, and the clock leases,
    expiry and backoff are reckoned in (tests move it)."""

    public_url: str
    policy: UrlPolicy
    poster: Poster
    max_attempts: int = 10
    lease: datetime.timedelta = datetime.timedelta(seconds=60)
    backoff: Backoff = full_jitter
    clock: Callable[[], datetime.datetime] = utcnow
    # Each version's document, rendered once for all its receivers.
    documents: RenderCache = dataclasses.field(
        default_factory=lambda: RenderCache(max_entries=64), compare=False
    )


def push_due(*, app: Flask, session: Session, pusher: Pusher) -> int:
    """Claim the push due longest and make it; returns how many were claimed (0 or 1).

    Its outcome is recorded whatever happens: one that cannot be rendered, or whose sending
    raises, is tried again like a receiver's 500.
    """
    now = pusher.clock()
    # A read first: idle workers take no write lock.
    if not store.has_due_pushes(session=session, now=now):
        session.rollback()
        return 0
    with write(session):
        claim = store.claim_push(session=session, now=now, lease=pusher.lease)
    if claim is None:
        return 0
    held_until = now + pusher.lease
    try:
        result = _attempt(app, session, pusher, claim)
    except Exception as error:  # one push must never stop the worker
        log.exception("push %s raised", claim.id)
        session.rollback()
        result = PushResult("retry", error=f"{type(error).__name__}: {error}")
    _record(session, pusher, claim, result, held_until)
    return 1


def _attempt(app: Flask, session: Session, pusher: Pusher, claim: PushClaim) -> PushResult:
    """Make one claimed push (or say why not)."""
    if claim.removed:
        return PushResult("failed", error=REMOVED)
    if claim.attempts > pusher.max_attempts:
        # Claimed again after its lease ran out: a worker died with it, perhaps after the
        # receiver took it. It has had every attempt it may have.
        return PushResult(
            "failed",
            error=f"claimed {claim.attempts} times; the last attempt recorded no outcome "
            f"(last error: {claim.last_error or 'none'})",
        )
    alert = alert_as_sent(session=session, alert_id=claim.alert_id, version=claim.alert_version)
    if pusher.clock() >= alert.expires:
        return PushResult("failed", error="expired: the alert version expired before it was pushed")
    try:
        # Again: DNS may have changed. The push connects only to an address checked here.
        target = push_target(claim.url, pusher.policy)
    except InvalidInput as refused:
        # A host that cannot be found may be a passing DNS failure; a private one stays so.
        outcome: PushOutcome = "retry" if refused.code == "distributor_host" else "failed"
        return PushResult(outcome, error=f"{refused.code}: {refused.message}")
    body = pusher.documents.get(
        ("cap", alert_key(alert)),
        lambda: _render(app, session, pusher, alert),
    )
    timestamp = int(time.time())  # the receiver's clock checks it: real time, always
    headers = signed_headers(secret=claim.secret, timestamp=timestamp, body=body)
    return pusher.poster.post(
        url=target.url, addresses=target.addresses, body=body, headers=headers
    )


def _render(app: Flask, session: Session, pusher: Pusher, alert: Alert) -> bytes:
    with app.app_context():  # texts are rendered in each language's locale
        return cap_document(session=session, alert=alert, public_url=pusher.public_url)


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= ERROR_LENGTH:
        return text
    return text[: ERROR_LENGTH - 1] + "…"


def _record(
    session: Session,
    pusher: Pusher,
    claim: PushClaim,
    result: PushResult,
    held_until: datetime.datetime,
) -> None:
    now = pusher.clock()
    done: dict[str, Any] = {"lease_until": None, "last_status_code": result.status_code}
    if not result.attempted:  # never sent: the claim's attempt is given back
        done["attempts"] = claim.attempts - 1
    elif result.outcome == "retry" and claim.attempts >= pusher.max_attempts:
        result = dataclasses.replace(
            result,
            outcome="failed",
            error=f"gave up after {claim.attempts} attempts; the last: {result.error}",
        )
    error = _clip(result.error)
    if result.outcome == "sent":
        values = {**done, "status": "sent", "sent_at": now, "last_error": None}
    elif result.outcome == "retry":
        wait = pusher.backoff(claim.attempts)
        if result.retry_after:
            wait = max(wait, datetime.timedelta(seconds=result.retry_after))
        values = {**done, "status": "pending", "next_attempt_at": now + wait, "last_error": error}
    else:
        values = {**done, "status": "failed", "last_error": error}
    with write(session):
        held = store.save_push_outcome(
            session=session, push_id=claim.id, held_until=held_until, values=values
        )
        if held:
            store.note_result(
                session=session,
                distributor_id=claim.distributor_id,
                at=now,
                error=None if result.outcome == "sent" else error,
            )
    count_push(distributor=claim.name, outcome=result.outcome)
    what = f"alert {claim.alert_id} v{claim.alert_version} ({claim.msg_type}) to {claim.name}"
    if not held:
        log.warning("%s: taken over by another worker after the lease ran out", what)
    elif result.outcome == "sent":
        log.info("%s: pushed (HTTP %s)", what, result.status_code)
    elif result.outcome == "retry":
        log.warning("%s: attempt %d failed, will retry: %s", what, claim.attempts, error)
    else:
        log.warning("%s: failed: %s", what, error)
