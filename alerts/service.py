"""AMBER alert operations: agencies and officers, drafts, the two-person rule, versions.

Routes, the CLI and workers call these functions. Every transition is written to the
append-only audit trail in the same transaction as the change itself.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from alerts import store
from alerts.approvals.store import save_notices
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
from geo.jurisdiction import AllowedArea, allowed_area, format_km2
from geo.outlines import county_place
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
    *, session: Session, agency_name: str, name: str, approver: bool, notify_to: str | None = None
) -> tuple[Officer, str]:
    """Register an officer; returns the officer and its API key, which is shown only once.
    `notify_to` (an Apprise URL or a phone number) is where they hear of alerts to approve."""
    api_key = auth.new_secret("hvo")
    notify = check_notify_target(notify_to) if notify_to is not None else None
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
                notify_to=notify,
            ),
        )
    return officer, api_key


def check_notify_target(target: str) -> str:
    """An approval-notice target as stored: a phone number in E.164, or an Apprise URL that
    Apprise can parse; 422 for anything else."""
    import apprise

    from alerts.phones import to_e164

    target = target.strip()
    if "://" not in target:
        try:
            return to_e164(target)
        except ValueError as exc:
            raise InvalidInput(
                f"{target!r} is neither a phone number nor an Apprise URL (such as "
                "mailto://user@example.org)."
            ) from exc
    if len(target) > 500 or not apprise.Apprise().add(target):
        raise InvalidInput(f"Apprise cannot use {target!r}: check the URL's scheme and parts.")
    return target


def _named_officer(session: Session, agency_name: str, name: str) -> Officer:
    agency = store.get_agency_by_name(session=session, name=agency_name)
    officer = None
    if agency is not None:
        officer = store.get_officer_by_name(session=session, agency_id=agency.id, name=name)
    if officer is None:
        raise NotFound(f"{agency_name!r} has no officer named {name!r}.")
    return officer


def _audit_officer(session: Session, officer: Officer, action: str, **changes: Any) -> None:
    session.add(
        AuditEntry(
            alert_id=None,
            agency_id=officer.agency_id,
            officer_id=officer.id,
            action=action,
            at=utcnow(),
            changes=changes,
        )
    )


def issue_enrolment(
    *, session: Session, agency_name: str, name: str, hours: int, reset: bool = False
) -> str:
    """A new one-time console enrolment token for an officer, valid `hours` (only its hash is
    kept; an earlier link stops working). With `reset`, the officer's sessions end and their
    password and second factors are removed first, so they must enrol again."""
    from alerts.console.store import delete_credentials, end_sessions

    token = auth.new_secret("hve")
    now = utcnow()
    with write(session):
        officer = _named_officer(session, agency_name, name)
        officer.enrolment_hash = officer.enrolment_expires = None
        if officer.revoked_at is not None:
            raise Conflict(f"{name!r} of {agency_name} is revoked: add a new officer instead.")
        if reset:
            end_sessions(session=session, officer_id=officer.id, now=now)
            delete_credentials(session=session, officer_id=officer.id)
            officer.password_hash = officer.totp_secret = None
            _audit_officer(session, officer, "factors_reset")
        officer.enrolment_hash = auth.hash_secret(token)
        officer.enrolment_expires = now + datetime.timedelta(hours=hours)
    return token


def revoke_officer(*, session: Session, agency_name: str, name: str) -> int:
    """Revoke an officer at once: their API key stops working, every console session ends
    and any enrolment link dies. Returns the number of sessions ended."""
    from alerts.console.store import end_sessions

    now = utcnow()
    with write(session):
        officer = _named_officer(session, agency_name, name)
        ended = end_sessions(session=session, officer_id=officer.id, now=now)
        if officer.revoked_at is None:
            officer.revoked_at = now
            _audit_officer(session, officer, "revoked", sessions_ended=ended)
    return ended


def set_officer_notify(
    *, session: Session, agency_name: str, name: str, target: str | None
) -> Officer:
    """Set (or with None, clear) where an officer hears of alerts waiting for approval."""
    notify = check_notify_target(target) if target is not None else None
    with write(session):
        officer = _named_officer(session, agency_name, name)
        officer.notify_to = notify
    return officer


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
    """422 naming the first area that reaches onto other jurisdictions' land beyond the
    tolerance, the counties it reaches into, and in `details` that part and the area clipped
    to the jurisdiction (docs/geo.md, "Jurisdiction"). Water does not count, but an area
    (each of its polygons) must reach the jurisdiction plus the tolerance."""
    # Projected and widened once for all the areas: that costs more than checking one.
    allowed = allowed_area(
        shape(agency.jurisdiction), tolerance_km, codes=agency.jurisdiction_codes
    )
    for number, area in enumerate(areas):
        overhang = allowed.on_other_land(area.geometry)
        if overhang.is_empty:
            _check_reaches(agency, allowed, number, area, tolerance_km)
            continue
        counties = [county_place(code) for code in overhang.counties]
        names = [f"{county['name']}, {county['state']}" for county in counties]
        if len(names) > 3:
            names = [*names[:3], f"{len(names) - 3} more"]
        # "Lake County, IN; DuPage County, IL and Will County, IL": names hold commas.
        listed = " and ".join(["; ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        near = (
            f" near {overhang.near_lat:.3f},{overhang.near_lon:.3f}"
            if overhang.near_lat is not None
            else ""
        )
        clipped = allowed.fix(area.geometry)
        raise InvalidInput(
            f"areas.{number}: {format_km2(overhang.area_km2)} of this area lies on the land of "
            f"{listed}, outside {agency.name}'s jurisdiction{near} "
            f"(tolerance {tolerance_km:g} km).",
            code="outside_jurisdiction",
            details={
                "area": number,
                "counties": counties,
                "outside": mapping(overhang.geometry),
                "clipped": None if clipped is None else mapping(clipped),
            },
        )


def _check_reaches(
    agency: Agency, allowed: AllowedArea, number: int, area: Area, tolerance_km: float
) -> None:
    """422 if a polygon of the area comes nowhere near the jurisdiction (open water, Canada):
    `details` as for other land, with no counties, and the area without those polygons."""
    apart = allowed.apart(area.geometry)
    if apart.is_empty or apart.distance_km is None:
        return
    rest = allowed.reaching(area.geometry)
    far = "less than 0.1 km" if apart.distance_km < 0.1 else f"about {apart.distance_km:.1f} km"
    near = f"near {apart.near_lat:.3f},{apart.near_lon:.3f}"
    tolerance = f"(tolerance {tolerance_km:g} km)"
    message = (
        f"areas.{number}: this area does not reach {agency.name}'s jurisdiction: at its nearest "
        f"it is {far} from it, {near} {tolerance}."
        if rest is None
        else f"areas.{number}: part of this area does not reach {agency.name}'s jurisdiction: "
        f"{format_km2(apart.area_km2)} of it, {near}, is {far} from it at its nearest "
        f"{tolerance}."
    )
    raise InvalidInput(
        message,
        code="outside_jurisdiction",
        details={
            "area": number,
            "counties": [],
            "outside": mapping(apart.geometry),
            "clipped": None if rest is None else mapping(rest),
        },
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
    """Store a new draft after checking its areas, expiry and jurisdiction (`check_draft`)."""
    check_draft(session=session, officer=officer, draft=draft, rules=rules)
    with write(session):
        alert = store.save(
            session=session,
            row=Alert(
                agency_id=officer.agency_id,
                status=draft.status,
                state="draft",
                revision=1,
                version=0,
                created_by=officer.id,
                created_at=utcnow(),
                expires=draft.expires,
                content=draft.model_dump(mode="json", exclude_none=True),
            ),
        )
        _audit(session, alert, officer, "created", content=alert.content, revision=1)
    return alert


def check_draft(
    *, session: Session, officer: Officer, draft: AlertIn, rules: Rules
) -> tuple[Agency, list[Area]]:
    """Every check a new draft must pass (`create_draft` stores it after these), storing
    nothing; the officer's agency and the parsed areas."""
    _check_expiry(draft.expires, rules, utcnow())
    check_area_limits(draft.areas, rules)
    areas = parse_areas(draft.areas)
    agency = store.get_agency(session=session, agency_id=officer.agency_id)
    check_jurisdiction(agency, areas, rules.tolerance_km)
    return agency, areas


@dataclasses.dataclass(frozen=True)
class AlertPage:
    """A page of an agency's alerts, in the order asked, and what a summary of each needs."""

    alerts: list[Alert]
    names: dict[int, str]  # officers' names by id
    submitted_at: dict[int, datetime.datetime]
    approvable: set[int]  # the alerts the caller may approve now
    next_cursor: str | None


_CURSOR = "alerts:"


def _cursor(alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR}{alert_id}".encode()).decode().rstrip("=")


def _before_id(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_CURSOR) or not text[len(_CURSOR) :].isdigit():
            raise ValueError(text)
        return int(text[len(_CURSOR) :])
    except ValueError as exc:
        raise InvalidInput(
            "cursor: not a cursor this list gave; start again without one.",
            code="invalid_cursor",
        ) from exc


def list_alerts(
    *,
    session: Session,
    officer: Officer,
    states: Sequence[str],
    limit: int,
    cursor: str | None,
    rules: Rules,
    created_by: int | None = None,
    oldest_first: bool = False,
) -> AlertPage:
    """The officer's agency's alerts in any of `states` (all if none), created by `created_by`
    when given, newest first (or `oldest_first`), `limit` at a time from `cursor` (the
    `next_cursor` of the page before, listed in the same order)."""
    before = _before_id(cursor) if cursor else None
    alerts = store.fetch_agency_alerts(
        session=session,
        agency_id=officer.agency_id,
        states=states,
        before_id=before,
        limit=limit + 1,  # one more tells whether a next page exists
        created_by=created_by,
        oldest_first=oldest_first,
    )
    more, alerts = len(alerts) > limit, alerts[:limit]
    ids = [alert.id for alert in alerts]
    pending = [alert for alert in alerts if alert.state == "pending"]
    approvable: set[int] = set()
    if officer.is_approver and pending:
        editors = store.fetch_editors(session=session, alert_ids=[a.id for a in pending])
        approvable = {
            alert.id for alert in pending if may_review(officer, alert, editors[alert.id], rules)
        }
    return AlertPage(
        alerts=alerts,
        names=store.fetch_officer_names(session=session, agency_id=officer.agency_id),
        submitted_at=store.fetch_submitted_at(session=session, alert_ids=ids),
        approvable=approvable,
        next_cursor=_cursor(alerts[-1].id) if more else None,
    )


def get_alert(*, session: Session, officer: Officer, alert_id: int) -> Alert:
    """An alert of the officer's own agency: 404 if there is none, and the same 404 if it is
    another agency's (whose alerts an officer may not even learn exist)."""
    alert = store.get_alert(session=session, alert_id=alert_id)
    if alert is None or alert.agency_id != officer.agency_id:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def _locked(
    session: Session, officer: Officer, alert_id: int, *states: str, revision: int | None = None
) -> Alert:
    """The alert, locked for this transaction, if it is in one of `states` (and, when
    `revision` is given, still at that revision)."""
    alert = store.get_alert(session=session, alert_id=alert_id, for_update=True)
    if alert is None or alert.agency_id != officer.agency_id:
        raise NotFound(f"No alert {alert_id}.")  # as get_alert: another agency's is not there
    if revision is not None:
        check_revision(alert, revision)
    if _expired(alert):
        alert.state = "expired"
        _audit(session, alert, None, "expired")
    _check_state(alert.id, alert.state, states)
    return alert


def _expired(alert: Alert) -> bool:
    """Whether an active alert is past its expiry (and so expired, whatever its row says)."""
    return alert.state == "active" and alert.expires <= utcnow()


def _check_state(alert_id: int, state: str, states: Sequence[str]) -> None:
    """409 `alert_<state>` unless `state` is one of `states`."""
    if state not in states:
        raise Conflict(
            f"Alert {alert_id} is {state}; this needs it to be {' or '.join(states)}.",
            code=f"alert_{state}",
        )


def check_revision(alert: Alert, revision: int) -> None:
    """409 stale_revision, naming the current revision, unless the alert is at `revision`."""
    if alert.revision != revision:
        raise Conflict(
            f"This alert changed since you opened it: it is now at revision {alert.revision}. "
            "Reload to see the changes.",
            code="stale_revision",
            details={"revision": alert.revision},
        )


def submit_alert(
    *, session: Session, officer: Officer, alert_id: int, rules: Rules, revision: int | None = None
) -> Alert:
    """Send a draft for approval (at `revision`, when given). An approver's note from an
    earlier return is cleared: it was about the version before. The notices to the approvers
    who may approve it commit with the submit (alerts/approvals/): the caller then tells the
    workers (`approvals.service.notify_approvers`)."""
    with write(session):
        alert = _locked(session, officer, alert_id, "draft", revision=revision)
        alert.state, alert.review_note = "pending", None
        _audit(session, alert, officer, "submitted", revision=alert.revision)
        approvers = store.fetch_approvers_to_notify(
            session=session, agency_id=alert.agency_id, except_id=officer.id
        )
        editors = store.fetch_editor_ids(session=session, alert_id=alert.id)
        save_notices(
            session=session,
            alert_id=alert.id,
            officer_ids=[a.id for a in approvers if may_review(a, alert, editors, rules)],
            at=utcnow(),
        )
    return alert


def may_review(officer: Officer, alert: Alert, editors: set[int], rules: Rules) -> bool:
    """Whether `officer` may approve, return or reject `alert` now: an approver, a pending
    alert, and under the two-person rule none of its content theirs (`editors`: everyone who
    created or updated it, as `store.fetch_editor_ids`). The one answer to "may review": the
    API's transitions, its list's `can_approve`, the console's alert page and home queue, and
    the approvers told of a submit all ask it."""
    if not officer.is_approver or alert.state != "pending":
        return False
    return not rules.two_person_rule or officer.id not in editors | {alert.created_by}


def may_review_alert(*, session: Session, officer: Officer, alert: Alert, rules: Rules) -> bool:
    """`may_review`, with the alert's editors read from its audit trail."""
    editors = store.fetch_editor_ids(session=session, alert_id=alert.id)
    return may_review(officer, alert, editors, rules)


def _review(
    session: Session,
    officer: Officer,
    alert_id: int,
    *,
    revision: int,
    reason: str,
    rules: Rules,
    state: str,
    action: str,
) -> Alert:
    """Move a pending alert to `state` with the approver's reason, as approval's rules allow."""
    verb = "return" if state == "draft" else "reject"
    if not officer.is_approver:
        raise Forbidden(f"Only an officer with approver rights can {verb} an alert.")
    with write(session):
        alert = _locked(session, officer, alert_id, "pending", revision=revision)
        # An approver and a pending alert by now: only the two-person rule can refuse.
        if not may_review_alert(session=session, officer=officer, alert=alert, rules=rules):
            raise Forbidden(
                f"A second officer must review this alert (two-person rule): you wrote some "
                f"of its content, so you cannot {verb} it."
            )
        alert.state, alert.review_note = state, reason
        _audit(session, alert, officer, action, revision=alert.revision, reason=reason)
    return alert


def return_alert(
    *, session: Session, officer: Officer, alert_id: int, revision: int, reason: str, rules: Rules
) -> Alert:
    """Send a pending alert back to draft, with the reason its drafter sees; an approver who
    wrote none of it (two-person rule) and reviewed `revision`."""
    return _review(
        session,
        officer,
        alert_id,
        revision=revision,
        reason=reason,
        rules=rules,
        state="draft",
        action="returned",
    )


def reject_alert(
    *, session: Session, officer: Officer, alert_id: int, revision: int, reason: str, rules: Rules
) -> Alert:
    """End a pending alert unsent ("rejected", final), with the reason; who may, as return."""
    return _review(
        session,
        officer,
        alert_id,
        revision=revision,
        reason=reason,
        rules=rules,
        state="rejected",
        action="rejected",
    )


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

    409 `stale_revision` if the alert has changed since that revision. Under the two-person
    rule, nobody who wrote any of its content (created or updated it) may approve it. A photo
    that cannot be fetched never stops the alert: the outcomes say what became of each (also
    audited).
    """
    if not officer.is_approver:
        raise Forbidden("Only an officer with approver rights can approve an alert.")
    fetched = _fetch_photos(session, officer, alert_id, photos, state="pending", revision=revision)
    with write(session):
        alert = _locked(session, officer, alert_id, "pending", revision=revision)
        # An approver and a pending alert by now: only the two-person rule can refuse.
        if not may_review_alert(session=session, officer=officer, alert=alert, rules=rules):
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
    revision: int | None = None,
) -> tuple[Alert, list[PhotoOutcome]]:
    """Change a draft in place, or send a new version of an active alert (with the photos
    of its children that `photos` could fetch when it changes the children); when
    `revision` is given, only if the alert is still at that revision.

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
        alert = _locked(session, officer, alert_id, *UPDATABLE, revision=revision)
        changed = changes.model_dump(mode="json", exclude_unset=True, exclude={"revision"})
        if changes.expires is not None:
            _check_expiry(changes.expires, rules, utcnow())
        if changes.areas is not None:
            check_area_limits(changes.areas, rules)
            agency = store.get_agency(session=session, agency_id=alert.agency_id)
            check_jurisdiction(agency, parse_areas(changes.areas), rules.tolerance_km)
        alert.content = updated_content(alert.content, changes)
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


UPDATABLE = ("draft", "pending", "active")
"""The states in which an alert may be updated (or cancelled)."""


def updated_content(stored: dict[str, Any], changes: AlertUpdateIn) -> dict[str, Any]:
    """Stored content with an update's changes, as `update_alert` stores it: fields replaced
    (a null field removes it), texts merged per language (a null text removes one), nested
    nulls and absent optional fields left out as a draft stores them. `revision` is not
    content."""
    changed = changes.model_dump(mode="json", exclude_unset=True, exclude={"revision"})
    compact = changes.model_dump(
        mode="json", exclude_unset=True, exclude_none=True, exclude={"revision"}
    )
    merged = {**stored, **{key: compact.get(key) for key in changed if key != "texts"}}
    if "texts" in changed:
        texts = {**stored.get("texts", {}), **(changed["texts"] or {})}
        merged["texts"] = {code: text for code, text in texts.items() if text is not None}
    return {key: value for key, value in merged.items() if value is not None}


def preview_update(
    *, session: Session, officer: Officer, alert_id: int, changes: AlertUpdateIn
) -> tuple[Alert, dict[str, Any]]:
    """The alert and its content as `update_alert` would store it with `changes`, storing
    nothing: 404 as `get_alert`, 409 `alert_<state>` for an alert that can no longer be
    updated (cancelled, expired, rejected) and, when `changes` carries a revision,
    `stale_revision` as update answers. The input rules are checked by the update itself."""
    alert = get_alert(session=session, officer=officer, alert_id=alert_id)
    if changes.revision is not None:
        check_revision(alert, changes.revision)
    _check_state(alert.id, "expired" if _expired(alert) else alert.state, UPDATABLE)
    return alert, updated_content(alert.content, changes)


def cancel_alert(
    *,
    session: Session,
    officer: Officer,
    alert_id: int,
    cancel: CancelIn,
    audience: LiveAudience,
    revision: int | None = None,
) -> Alert:
    """End an alert (at `revision`, when given). An active one sends a cancellation to
    everyone it reached."""
    with write(session):
        alert = _locked(session, officer, alert_id, *UPDATABLE, revision=revision)
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
