"""An alert as the world reads it: CAP 1.2 messages with one <info> per language (the Atom
feed is `alerts.feed`). Texts are rendered inside each language's locale."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import shapely
from flask import current_app, has_app_context
from flask_babel import force_locale, gettext
from shapely.geometry import shape
from sqlalchemy.orm import Session

from alerts import store
from alerts.cap import (
    CMAM_LONG_TEXT_MAX,
    CMAM_TEXT_MAX,
    CapArea,
    CapInfo,
    CapMessage,
    CapReference,
    CapResource,
    cap_language,
    render_cap,
)
from alerts.cap_fields import alert_parameters, text_parameters
from alerts.cap_sign import CapSigner, sign_cap
from alerts.content import AlertContent, StoredArea
from alerts.models import Alert, AlertVersion
from alerts.photos import ChildPhoto, alert_photos
from alerts.svg import AreaMap, Bounds, Place, area_map, map_frame
from alerts.timezones import agency_timezone
from alerts.views import cap_identifier, msg_type
from geo.areas import parse_area, to_cap_polygons
from geo.covered_counties import county_codes
from geo.errors import GeoError
from geo.same import lookup_same
from geo.surroundings import counties_within, states_within
from haven.i18n import CATALOG_LOCALES


def sender(public_url: str) -> str:
    """Haven's CAP sender: an address at the public host."""
    return f"haven@{urlsplit(public_url).hostname or 'localhost'}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def child_summary(content: AlertContent) -> str:
    """The children's names and ages, as one line."""
    parts = []
    for child in content.children:
        if child.age is not None:
            parts.append(gettext("%(name)s, age %(age)s", name=child.name, age=child.age))
        else:
            parts.append(child.name)
    return "; ".join(parts)


def vehicle_summary(content: AlertContent) -> str | None:
    """The vehicle and its plate, or None."""
    vehicle = content.vehicle
    if vehicle is None:
        return None
    described = " ".join(p for p in (vehicle.color, vehicle.make, vehicle.model) if p)
    if vehicle.plate:
        plate = " ".join(p for p in (vehicle.plate_state, vehicle.plate) if p)
        return str(
            gettext("Vehicle: %(vehicle)s, plate %(plate)s.", vehicle=described or "?", plate=plate)
        )
    if not described:
        return None
    text: str = gettext("Vehicle: %(vehicle)s.", vehicle=described)
    return text


@dataclass(frozen=True)
class PublicView:
    """What an alert version's public pages show, in any language, but its map: the content
    without the areas' vertices, the areas' names, the agency and its time zone, and when the
    alert was last updated or cancelled."""

    content: AlertContent  # areas left out: a page needs only their names
    area_names: tuple[str, ...]  # each area's description, else its SAME county or state
    agency: str
    timezone: str  # IANA, e.g. America/Chicago
    updated_at: datetime.datetime | None = None  # the last Update's send time
    cancelled_at: datetime.datetime | None = None  # the Cancel's send time
    cancel_note: str | None = None
    nbytes: int = 4096  # about how much memory it holds


def public_view(*, session: Session, alert: Alert) -> PublicView:
    """The alert's content as its public pages show it."""
    content = AlertContent.from_stored(alert.content)
    agency = store.get_agency(session=session, agency_id=alert.agency_id)
    sent = store.fetch_versions_sent(session=session, alert_id=alert.id)
    updates = [v for v in sent if v.msg_type == "Update"]
    cancel = next((v for v in sent if v.msg_type == "Cancel"), None)
    return PublicView(
        content=content.model_copy(update={"areas": []}),
        area_names=tuple(dict.fromkeys(n for n in map(_area_name, content.areas) if n)),
        agency=agency.name,
        timezone=agency_timezone(agency),
        updated_at=updates[-1].sent_at if updates else None,
        cancelled_at=cancel.sent_at if cancel else None,
        cancel_note=cancel.note if cancel else None,
    )


def _area_name(area: StoredArea) -> str | None:
    """An area's description, else the county or state its SAME code names ("Cook, IL")."""
    if area.description:
        return area.description
    if area.same is None:
        return None
    try:
        same = lookup_same(area.same)
    except GeoError:  # a code the bundled data no longer holds
        return area.same
    return f"{same.name}, {same.state}" if same.kind == "county" and same.state else same.name


def public_area_map(*, session: Session, alert: Alert) -> AreaMap:
    """Parse the alert's stored areas and draw them (its agency's jurisdiction if none) over
    the counties around them, named (the states, for an area too large for counties)."""
    areas = [StoredArea.model_validate(area) for area in alert.content.get("areas", [])]
    geometries = [parse_area(a.kind, a.source, a.description).geometry for a in areas]
    if not geometries:
        agency = store.get_agency(session=session, agency_id=alert.agency_id)
        geometries = [shape(agency.jurisdiction)]
    frame = map_frame(geometries)
    return area_map(geometries, frame=frame, places=surroundings(geometries, frame))


STATE_MAP_DEG = 3.0
"""A map showing more latitude than this names the states around the area, not counties."""


def surroundings(geometries: list[Any], frame: Bounds) -> list[Place]:
    """The places a map of the areas shows beneath them, named, in the order their names are
    placed: those the areas reach into first, then the largest. A county outside the state
    the areas lie in (at a point inside them) is named with its state ("Lake, IN")."""
    large = frame[3] - frame[1] > STATE_MAP_DEG
    regions = states_within(frame) if large else counties_within(frame)
    area = shapely.union_all(geometries)
    shapely.prepare(area)
    reached = [r for r in regions if shapely.intersects(area, r.geometry)]
    inside = shapely.point_on_surface(area)
    home = next((r for r in reached if shapely.covers(r.geometry, inside)), None)
    home = home or max(reached, key=lambda r: shapely.area(r.geometry), default=None)
    codes = {r.code for r in reached}
    ordered = reached + sorted(
        (r for r in regions if r.code not in codes), key=lambda r: -shapely.area(r.geometry)
    )
    return [
        (
            r.name if large or home is None or r.state == home.state else f"{r.name}, {r.state}",
            r.geometry,
        )
        for r in ordered
    ]


def _info(
    alert: Alert,
    content: AlertContent,
    agency: str,
    language: str,
    page: str,
    parameters: list[tuple[str, str]],
    photos: Sequence[tuple[ChildPhoto, str]] = (),
) -> CapInfo:
    with force_locale(CATALOG_LOCALES.get(language, language)):
        resources = [
            CapResource(
                photo_description(photo.name),
                photo.media_type,
                url,
                size=photo.size,
                digest=photo.sha1,
            )
            for photo, url in photos
        ]
        children = child_summary(content)
        headline = gettext("AMBER Alert: %(children)s", children=children)
        lines = [
            gettext("%(agency)s is looking for %(children)s.", agency=agency, children=children)
        ]
        lines += [c.description for c in content.children if c.description]
        if vehicle := vehicle_summary(content):
            lines.append(vehicle)
        lines += [
            gettext("Suspect: %(description)s", description=s.description)
            for s in content.suspects
            if s.description
        ]
        if content.last_seen and content.last_seen.place:
            lines.append(gettext("Last seen: %(place)s", place=content.last_seen.place))
        if content.last_seen and content.last_seen.direction:
            # Translators: a line of an AMBER Alert (text message, and the description
            # other alerting systems show): which way the child or the suspect was heading,
            # as the police wrote it, e.g. "north on I-94". Keep it short.
            lines.append(gettext("Heading: %(direction)s", direction=content.last_seen.direction))
        instruction = content.texts.get(language) or gettext(
            "If you see the child or the vehicle, call 911 or %(phone)s.",
            phone=content.contact_phone,
        )
        cmam = gettext("AMBER Alert: %(children)s.", children=children)
        if content.vehicle and content.vehicle.plate:
            cmam += " " + (vehicle_summary(content) or "")
    return CapInfo(
        language=cap_language(language),
        expires=alert.expires,
        sender_name=agency,
        headline=_clip(headline, 160),
        description="\n".join(lines),
        instruction=instruction,
        web=page,
        contact=content.contact_phone,
        cmam_text=_clip(cmam, CMAM_TEXT_MAX),
        cmam_long_text=_clip(cmam + " " + instruction, CMAM_LONG_TEXT_MAX),
        parameters=parameters + text_parameters(content, language),
        resources=resources,
    )


def photo_description(name: str) -> str:
    """What a child's photo shows, in the current locale: its alt text and CAP resourceDesc."""
    # Translators: describes a missing child's photo, for people who cannot see it (on the
    # alert's page) and for other alerting systems (CAP). %(name)s is the child's name.
    text: str = gettext("Photo of %(name)s", name=name)
    return text


def _areas(content: AlertContent) -> list[CapArea]:
    """The alert's areas for CAP. A drawn area (polygon, circle, GeoJSON) carries the SAME
    codes of the counties whose land it covers, which EAS targets; a SAME area keeps its own."""
    areas = []
    for number, area in enumerate(content.areas, 1):
        description = area.description or f"Area {number}"
        if area.same is not None:
            areas.append(CapArea(description, geocodes=[area.same]))
            continue
        if area.geojson is not None:
            geometry = parse_area("geojson", area.geojson).geometry
            polygons, circles = to_cap_polygons(geometry), []
        else:
            polygons = [area.polygon] if area.polygon is not None else []
            circles = [area.circle] if area.circle is not None else []
            try:
                geometry = parse_area(area.kind, area.source).geometry
            except GeoError:  # accepted under older rules: it still goes out, as it was
                geometry = None
        codes = [] if geometry is None else county_codes(geometry)
        areas.append(CapArea(description, polygons, circles, codes))
    return areas


def cap_message(
    *,
    alert: Alert,
    agency: str,
    versions: Sequence[AlertVersion],
    public_url: str,
    photos: Sequence[ChildPhoto] = (),
) -> CapMessage:
    """The alert's version as a CAP message, referencing every earlier version, with the
    children's `photos` as resources.

    `versions` are the alert's versions, oldest first (none for an unsent draft). Texts are
    rendered in each language's locale through Flask-Babel.
    """
    content = AlertContent.from_stored(alert.content)
    # Up to the alert's version: `alert_as_sent` gives an earlier version as it went out.
    versions = [v for v in versions if v.version <= alert.version]
    current = versions[-1] if versions else None
    who = sender(public_url)
    page = f"{public_url}/alerts/{alert.id}"
    languages = ["en", *(code for code in content.texts if code != "en")]
    parameters = alert_parameters(content)
    links = [(photo, f"{public_url}{photo.path}") for photo in photos]
    return CapMessage(
        identifier=cap_identifier(alert),
        sender=who,
        sent=current.sent_at if current else alert.created_at,
        status=alert.status,  # type: ignore[arg-type]
        msg_type=msg_type(alert),  # type: ignore[arg-type]
        infos=[_info(alert, content, agency, code, page, parameters, links) for code in languages],
        areas=_areas(content),
        references=[
            CapReference(who, cap_identifier(alert, v.version), v.sent_at) for v in versions[:-1]
        ],
        note=current.note if current else None,
    )


CAP_SIGNER = "alerts.cap_signer"
"""Where `alerts.init_app` keeps the app's `CapSigner` (None: CAP goes out unsigned)."""


def configured_cap_signer() -> CapSigner | None:
    """The running app's CAP signer, from HAVEN_CAP_SIGNING_KEY and _CERT; None if unset."""
    if not has_app_context():
        return None
    signer: CapSigner | None = current_app.extensions.get(CAP_SIGNER)
    return signer


def cap_document(*, session: Session, alert: Alert, public_url: str) -> bytes:
    """The alert's version as CAP 1.2, referencing every earlier version; signed (XML
    signature) when the app has a CAP signing key (HAVEN_CAP_SIGNING_KEY, docs/cap.md)."""
    document = render_cap(
        cap_message(
            alert=alert,
            agency=store.get_agency(session=session, agency_id=alert.agency_id).name,
            versions=store.fetch_versions(session=session, alert_id=alert.id),
            public_url=public_url,
            photos=alert_photos(session=session, alert=alert),
        )
    )
    signer = configured_cap_signer()
    return document if signer is None else sign_cap(document, signer=signer)


def alert_as_sent(*, session: Session, alert_id: int, version: int) -> Alert:
    """The alert as it stood when `version` went out (a detached copy, never saved): what
    `cap_document` renders for it is what the public CAP route served for that version.

    Distributors are pushed each version's own document even when a later one exists by then.
    """
    alert = store.get_alert(session=session, alert_id=alert_id)
    if alert is None:
        raise LookupError(f"no alert {alert_id}")
    sent = next(
        (
            v
            for v in store.fetch_versions(session=session, alert_id=alert_id)
            if v.version == version
        ),
        None,
    )
    if sent is None:
        raise LookupError(f"alert {alert_id} has no version {version}")
    columns = {column.key: getattr(alert, column.key) for column in Alert.__table__.columns}
    # A version's own content and expiry; its message type follows from version and state
    # (`alerts.views.msg_type`): only a Cancel leaves the alert cancelled.
    columns.update(
        version=sent.version,
        content=sent.content,
        expires=sent.expires,
        state="cancelled" if sent.msg_type == "Cancel" else "active",
    )
    return Alert(**columns)
