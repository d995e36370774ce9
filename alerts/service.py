"""AMBER alert operations: agencies and officers, drafts, the two-person rule, versions.

Routes, the CLI and workers call these functions. Every transition is written to the
append-only audit trail in the same transaction as the change itself.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from alerts import store
from alerts.audience import LiveAudience
from alerts.content import AlertContent, StoredArea
from alerts.dispatch.service import queue_version
from alerts.distributors.service import queue_pushes
from alerts.models import Agency, Alert, AlertVersion, AuditEntry, Officer
from alerts.photo_fetch import FetchedPhoto, PhotoFetcher, PhotoProblem
from alerts.photos import PhotoOutcome, save_photos, urls_to_fetch
from alerts.schemas import AlertIn, AlertUpdateIn, AreaIn, CancelIn
from alerts.timezones import check_timezone, timezone_at
from geo.areas import Area, parse_area, source_vertex_count
from geo.errors import GeoError
from geo.jurisdiction import allowed_area
from haven import auth
from haven.db import utcnow, write
from haven.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from haven.settings import Settings


@dataclasses.dataclass(frozen=True)
class Rules:
    """The configurable rules alerts are checked against."""

    max_hours: int = 24
    tolerance_km: float = 2.0
    two_person_rule: bool = True
    max_areas: int = 100
    max_vertices: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules in force."""
        return cls(
            max_hours=settings.alert_max_hours,
            tolerance_km=settings.jurisdiction_tolerance_km,
            two_person_rule=settings.two_person_rule,
            max_areas=settings.alert_max_areas,
            max_vertices=settings.alert_max_vertices,
        )


# Agencies and officers


def add_agency(
    *,
    session: Session,
    name: str,
    same_codes: list[str] | None = None,
    area: dict[str, Any] | None = None,
    timezone: str | None = None,
) -> Agency:
    """Register an agency with a jurisdiction given as SAME codes or a GeoJSON area, and the
    IANA time zone its alert pages show times in (by default, the zone at the jurisdiction)."""
    if bool(same_codes) == (area is not None):
        raise InvalidInput("Give the jurisdiction as SAME codes or as a GeoJSON area, not both.")
    if timezone is not None:
        timezone = check_timezone(timezone)
    try:
        if same_codes:
            parts = [parse_area("same", code) for code in same_codes]
        else:
            parts = [parse_area("geojson", area)]
    except GeoError as exc:
        raise InvalidInput(f"jurisdiction: {exc}") from exc
    geometry = shapely.union_all([p.geometry for p in parts])
    timezone = timezone or timezone_at(geometry)
    with write(session):
        if store.get_agency_by_name(session=session, name=name):
            raise Conflict(f"An agency named {name!r} already exists.")
        agency = store.save(
            session=session,
            row=Agency(
                name=name,
                jurisdiction=mapping(geometry),
                jurisdiction_codes=[p.source for p in parts if p.kind == "same"],
                created_at=utcnow(),
                timezone=timezone,
            ),
        )
    return agency


def add_officer(
    *, session: Session, agency_name: str, name: str, approver: bool
) -> tuple[Officer, str]:
    """Register an officer; returns the officer and its API key, which is shown only once."""
    api_key = auth.new_secret("hvo")
    with write(session):
        agency = store.get_agency_by_name(session=session, name=agency_name)
        if agency is None:
            raise NotFound(f"No agency is named {agency_name!r}.")
        if store.get_officer_by_name(session=session, agency_id=agency.id, name=name):
            raise Conflict(f"{agency_name} already has an officer named {name!r}.")
        officer = store.save(
            session=session,
            row=Officer(
                agency_id=agency.id,
                name=name,
                api_key_hash=auth.hash_secret(api_key),
                is_approver=approver,
                created_at=utcnow(),
            ),
        )
    return officer, api_key


def authenticate_officer(*, session: Session, api_key: str) -> Officer:
    """The officer owning this key, or 401."""
    officer = store.get_active_officer(session=session, key_hash=auth.hash_secret(api_key))
    if officer is None:
        raise Unauthorized("That API key is unknown or has been revoked.")
    return officer


# Areas


def parse_areas(areas: Sequence[AreaIn | StoredArea]) -> list[Area]:
    """Each area parsed and validated, or 422 naming which area and what is wrong."""
    parsed = []
    for number, area in enumerate(areas):
        try:
            parsed.append(parse_area(area.kind, area.source, area.description))
        except GeoError as exc:
            raise InvalidInput(f"areas.{number}.{area.kind}: {exc}", code="invalid_area") from exc
    return parsed


def check_area_limits(areas: Sequence[AreaIn], rules: Rules) -> None:
    """422 if an officer's areas are too many or have too many vertices in all.

    Counted before parsing, so an oversized request costs next to nothing. The limits keep
    an officer's request under a second of CPU (docs/geo.md); stored areas are not counted.
    """
    if len(areas) > rules.max_areas:
        raise InvalidInput(
            f"areas: the alert has {len(areas):,} areas; the limit is {rules.max_areas:,}.",
            code="too_many_areas",
        )
    vertices = sum(source_vertex_count(area.kind, area.source) for area in areas)
    if vertices > rules.max_vertices:
        raise InvalidInput(
            f"areas: the areas have {vertices:,} vertices in all; "
            f"the limit is {rules.max_vertices:,}.",
            code="too_many_vertices",
        )


def check_jurisdiction(agency: Agency, areas: list[Area], tolerance_km: float) -> None:
    """422 naming the area that reaches outside the agency's jurisdiction."""
    # Projected and widened once for all the areas: that costs more than checking one.
    allowed = allowed_area(shape(agency.jurisdiction), tolerance_km)
    for number, area in enumerate(areas):
        overhang = allowed.outside(area.geometry)
        if not overhang.is_empty:
            near = (
                f" near {overhang.near_lat:.3f},{overhang.near_lon:.3f}"
                if overhang.near_lat is not None
                else ""
            )
            raise InvalidInput(
                f"areas.{number}: about {overhang.area_km2:,.1f} km² of this area lies outside "
                f"{agency.name}'s jurisdiction{near} (tolerance {tolerance_km:g} km).",
                code="outside_jurisdiction",
            )


def _check_expiry(expires: datetime.datetime, rules: Rules, now: datetime.datetime) -> None:
    if expires <= now:
        raise InvalidInput("expires: the expiry must be in the future.")
    if expires > now + datetime.timedelta(hours=rules.max_hours):
        raise InvalidInput(f"expires: an alert may last at most {rules.max_hours} hours.")


# Drafts and transitions


def _audit(
    session: Session, alert: Alert, officer: Officer | None, action: str, **changes: Any
) -> None:
    store.save(
        session=session,
        row=AuditEntry(
            alert_id=alert.id,
            agency_id=alert.agency_id,
            officer_id=officer.id if officer else None,
            action=action,
            at=utcnow(),
            changes=changes,
        ),
    )


def create_draft(*, session: Session, officer: Officer, draft: AlertIn, rules: Rules) -> Alert:
    """Store a new draft after checking its areas, expiry and jurisdiction."""
    now = utcnow()
    _check_expiry(draft.expires, rules, now)
    check_area_limits(draft.areas, rules)
    areas = parse_areas(draft.areas)
    with write(session):
        agency = store.get_agency(session=session, agency_id=officer.agency_id)
        check_jurisdiction(agency, areas, rules.tolerance_km)
        alert = store.save(
            session=session,
            row=Alert(
                agency_id=agency.id,
                status=draft.status,
                state="draft",
                revision=1,
                version=0,
                created_by=officer.id,
                created_at=now,
                expires=draft.expires,
                content=draft.model_dump(mode="json", exclude_none=True),
            ),
        )
        _audit(session, alert, officer, "created", content=alert.content, revision=1)
    return alert


def get_alert(*, session: Session, officer: Officer, alert_id: int) -> Alert:
    """An alert of the officer's own agency: 404 if there is none, 403 if another agency's."""
    alert = store.get_alert(session=session, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    if alert.agency_id != officer.agency_id:
        raise Forbidden("This alert belongs to another agency.")
    return alert


def _locked(session: Session, officer: Officer, alert_id: int, *states: str) -> Alert:
    """The alert, locked for this transaction, if it is in one of `states`."""
    alert = store.get_alert(session=session, alert_id=alert_id, for_update=True)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    if alert.agency_id != officer.agency_id:
        raise Forbidden("This alert belongs to another agency.")
    if alert.state == "active" and alert.expires <= utcnow():
        alert.state = "expired"
        _audit(session, alert, None, "expired")
    if alert.state not in states:
        raise Conflict(
            f"Alert {alert.id} is {alert.state}; this needs it to be {' or '.join(states)}.",
            code=f"alert_{alert.state}",
        )
    return alert


def submit_alert(*, session: Session, officer: Officer, alert_id: int) -> Alert:
    """Send a draft for approval."""
    with write(session):
        alert = _locked(session, officer, alert_id, "draft")
        alert.state = "pending"
        _audit(session, alert, officer, "submitted", revision=alert.revision)
    return alert


def approve_alert(
    *,
    session: Session,
    officer: Officer,
    alert_id: int,
    revision: int,
    rules: Rules,
    audience: LiveAudience,
    photos: PhotoFetcher | None = None,
) -> tuple[Alert, list[PhotoOutcome]]:
    """Approve a pending alert at the `revision` the approver reviewed, and send it: version 1,
    with its audience recorded, and with the children's photos `photos` could fetch.

    409 if the alert has changed since that revision. Under the two-person rule, nobody who
    wrote any of its content (created or updated it) may approve it. A photo that cannot be
    fetched never stops the alert: the outcomes say what became of each (also audited).
    """
    if not officer.is_approver:
        raise Forbidden("Only an officer with approver rights can approve an alert.")
    fetched = _fetch_photos(session, officer, alert_id, photos, state="pending", revision=revision)
    with write(session):
        alert = _locked(session, officer, alert_id, "pending")
        if alert.revision != revision:
            raise Conflict(
                f"Alert {alert.id} is now at revision {alert.revision}, not revision {revision} "
                f"that you reviewed; review revision {alert.revision} and approve that.",
                code="revision_changed",
                details={"revision": alert.revision},
            )
        if rules.two_person_rule:
            editors = store.fetch_editor_ids(session=session, alert_id=alert.id)
            if officer.id in editors | {alert.created_by}:
                raise Forbidden(
                    "A second officer must approve this alert (two-person rule): you wrote "
                    "some of its content."
                )
        _check_expiry(alert.expires, rules, utcnow())
        alert.state, alert.sent_at = "active", utcnow()
        _new_version(session, alert, "Alert", audience)
        _audit(
            session, alert, officer, "approved", revision=alert.revision, audience=alert.audience
        )
        outcomes = _keep_photos(session, alert, officer, fetched)
    return alert, outcomes


Fetched = dict[str, FetchedPhoto | PhotoProblem]  # each photo URL's photo, or why it has none


def _fetch_photos(
    session: Session,
    officer: Officer,
    alert_id: int,
    photos: PhotoFetcher | None,
    *,
    state: str,
    revision: int | None = None,
    urls: list[str] | None = None,
) -> Fetched:
    """The photos at `urls` (by default, its children's) that the alert has none of yet,
    fetched before its row is locked (a slow photo server never holds the lock), and only if
    it is in `state` (at `revision`): otherwise the transition fails anyway, and says why."""
    if photos is None:
        return {}
    with write(session):  # a short read, over before any download starts
        alert = store.get_alert(session=session, alert_id=alert_id)
        if (
            alert is None
            or alert.agency_id != officer.agency_id
            or alert.state != state
            or (revision is not None and alert.revision != revision)
        ):
            return {}
        wanted = urls_to_fetch(session=session, alert=alert, urls=urls)
    return photos.fetch_all(wanted)


def _keep_photos(
    session: Session, alert: Alert, officer: Officer, fetched: Fetched
) -> list[PhotoOutcome]:
    """Store the fetched photos with the version that shows them, and audit the outcomes."""
    outcomes = save_photos(session=session, alert=alert, fetched=fetched)
    if outcomes:
        _audit(session, alert, officer, "photos", photos=[o.as_dict() for o in outcomes])
    return outcomes


def update_alert(
    *,
    session: Session,
    officer: Officer,
    alert_id: int,
    changes: AlertUpdateIn,
    rules: Rules,
    audience: LiveAudience,
    photos: PhotoFetcher | None = None,
) -> tuple[Alert, list[PhotoOutcome]]:
    """Change a draft in place, or send a new version of an active alert (with the photos
    of its children that `photos` could fetch when it changes the children).

    Every change raises the alert's revision. A pending alert goes back to draft and needs a
    new submit: nobody approves content they have not seen.
    Only the changes are checked against the input rules; the stored rest is kept as it is.
    Texts merge per language (`AlertUpdateIn`): a text is removed only by an explicit null.
    """
    fetched: Fetched = {}
    if changes.children is not None:
        urls = [str(child.photo_url) for child in changes.children if child.photo_url]
        fetched = _fetch_photos(session, officer, alert_id, photos, state="active", urls=urls)
    outcomes: list[PhotoOutcome] = []
    with write(session):
        alert = _locked(session, officer, alert_id, "draft", "pending", "active")
        changed = changes.model_dump(mode="json", exclude_unset=True)
        # Stored as a draft is: nested nulls left out; a null field or text removes it.
        compact = changes.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        values = {key: compact.get(key) for key in changed if key != "texts"}
        if "texts" in changed:
            values["texts"] = changed["texts"]
        if changes.expires is not None:
            _check_expiry(changes.expires, rules, utcnow())
        if changes.areas is not None:
            check_area_limits(changes.areas, rules)
            agency = store.get_agency(session=session, agency_id=alert.agency_id)
            check_jurisdiction(agency, parse_areas(changes.areas), rules.tolerance_km)
        alert.content = _merged(alert.content, values)
        alert.expires = AlertContent.from_stored(alert.content).expires
        alert.revision += 1
        if alert.state == "active":
            _new_version(session, alert, "Update", audience)
        _audit(
            session,
            alert,
            officer,
            "updated",
            changes=changed,
            revision=alert.revision,
            version=alert.version,
        )
        if alert.state == "active" and changes.children is not None:
            outcomes = _keep_photos(session, alert, officer, fetched)
        if alert.state == "pending":
            alert.state = "draft"
            _audit(session, alert, officer, "returned_to_draft", revision=alert.revision)
    return alert, outcomes


def _merged(stored: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """Stored content with an update's changes: fields replaced, texts merged per language
    (null removes one), absent optional fields left out as a draft stores them."""
    merged = {**stored, **{k: v for k, v in changed.items() if k != "texts"}}
    if "texts" in changed:
        texts = {**stored.get("texts", {}), **(changed["texts"] or {})}
        merged["texts"] = {code: text for code, text in texts.items() if text is not None}
    return {key: value for key, value in merged.items() if value is not None}


def cancel_alert(
    *,
    session: Session,
    officer: Officer,
    alert_id: int,
    cancel: CancelIn,
    audience: LiveAudience,
) -> Alert:
    """End an alert. An active one sends a cancellation to everyone it reached."""
    with write(session):
        alert = _locked(session, officer, alert_id, "draft", "pending", "active")
        was_active = alert.state == "active"
        alert.state, alert.cancel_reason = "cancelled", cancel.reason
        if was_active:
            _new_version(session, alert, "Cancel", audience, note=cancel.note)
        _audit(session, alert, officer, "cancelled", reason=cancel.reason, note=cancel.note)
    return alert


def _new_version(
    session: Session,
    alert: Alert,
    msg_type: str,
    audience: LiveAudience,
    note: str | None = None,
) -> None:
    alert.version += 1
    if msg_type != "Cancel":
        alert.audience = count_audience(session=session, alert=alert, audience=audience)
    store.save(
        session=session,
        row=AlertVersion(
            alert_id=alert.id,
            version=alert.version,
            msg_type=msg_type,
            sent_at=utcnow(),
            expires=alert.expires,
            content=alert.content,
            audience=alert.audience,
            note=note,
        ),
    )
    # The outbox: the version and its dispatch job commit together, or neither does.
    queue_version(session=session, alert=alert, msg_type=msg_type)
    # And its pushes to secondary distributors (alerts/distributors/).
    queue_pushes(session=session, alert=alert, msg_type=msg_type)


def count_audience(*, session: Session, alert: Alert, audience: LiveAudience) -> dict[str, Any]:
    """How many subscribers and locations the alert reaches, in all and per area.

    Test and Exercise alerts reach only subscribers marked as testers.
    """
    content = AlertContent.from_stored(alert.content)
    geometries = [a.geometry for a in parse_areas(content.areas)]
    only = None
    if alert.status != "Actual":
        only = np.asarray(store.fetch_tester_ids(session=session), dtype=np.int32)
    return audience.audience(session, geometries, only=only).summary()


def expire_alerts(*, session: Session) -> int:
    """End every active alert whose expiry has passed; returns how many."""
    now = utcnow()
    expired = 0
    for alert_id in store.fetch_expired_alert_ids(session=session, now=now):
        with write(session):
            alert = store.get_alert(session=session, alert_id=alert_id, for_update=True)
            if alert is not None and alert.state == "active" and alert.expires <= now:
                alert.state = "expired"
                _audit(session, alert, None, "expired")
                expired += 1
    return expired
