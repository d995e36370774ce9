"""An alert as the world reads it: CAP 1.2 messages with one <info> per language, and the
Atom index of active alerts. Texts are rendered inside each language's locale."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import force_locale, gettext
from shapely.geometry import shape
from sqlalchemy.orm import Session

from alerts import store
from alerts.atom import AtomEntry, render_atom
from alerts.cap import (
    CMAM_LONG_TEXT_MAX,
    CMAM_TEXT_MAX,
    CapArea,
    CapInfo,
    CapMessage,
    CapReference,
    cap_language,
    render_cap,
)
from alerts.content import AlertContent, StoredArea
from alerts.models import Alert
from alerts.svg import AreaMap, area_map
from alerts.views import cap_identifier, msg_type
from geo.areas import parse_area, to_cap_polygons
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
    without the areas' vertices, the areas' descriptions and the agency."""

    content: AlertContent  # areas left out: a page needs only their descriptions
    area_descriptions: tuple[str | None, ...]
    agency: str
    nbytes: int = 4096  # about how much memory it holds


def public_view(*, session: Session, alert: Alert) -> PublicView:
    """The alert's content as its public pages show it."""
    content = AlertContent.from_stored(alert.content)
    return PublicView(
        content=content.model_copy(update={"areas": []}),
        area_descriptions=tuple(area.description for area in content.areas),
        agency=store.get_agency(session=session, agency_id=alert.agency_id).name,
    )


def public_area_map(*, session: Session, alert: Alert) -> AreaMap:
    """Parse the alert's stored areas and draw them (its agency's jurisdiction if none)."""
    areas = [StoredArea.model_validate(area) for area in alert.content.get("areas", [])]
    geometries = [parse_area(a.kind, a.source, a.description).geometry for a in areas]
    if not geometries:
        agency = store.get_agency(session=session, agency_id=alert.agency_id)
        geometries = [shape(agency.jurisdiction)]
    return area_map(geometries)


def _info(alert: Alert, content: AlertContent, agency: str, language: str, page: str) -> CapInfo:
    with force_locale(CATALOG_LOCALES.get(language, language)):
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
    )


def _areas(content: AlertContent) -> list[CapArea]:
    areas = []
    for number, area in enumerate(content.areas, 1):
        description = area.description or f"Area {number}"
        if area.polygon is not None:
            areas.append(CapArea(description, polygons=[area.polygon]))
        elif area.circle is not None:
            areas.append(CapArea(description, circles=[area.circle]))
        elif area.same is not None:
            areas.append(CapArea(description, geocodes=[area.same]))
        else:
            geometry = parse_area("geojson", area.geojson).geometry
            areas.append(CapArea(description, polygons=to_cap_polygons(geometry)))
    return areas


def cap_document(*, session: Session, alert: Alert, public_url: str) -> bytes:
    """The alert's current version as CAP 1.2, referencing every earlier version."""
    agency = store.get_agency(session=session, agency_id=alert.agency_id).name
    content = AlertContent.from_stored(alert.content)
    versions = store.fetch_versions(session=session, alert_id=alert.id)
    current = versions[-1] if versions else None
    who = sender(public_url)
    page = f"{public_url}/alerts/{alert.id}"
    languages = ["en", *(code for code in content.texts if code != "en")]
    return render_cap(
        CapMessage(
            identifier=cap_identifier(alert),
            sender=who,
            sent=current.sent_at if current else alert.created_at,
            status=alert.status,  # type: ignore[arg-type]
            msg_type=msg_type(alert),  # type: ignore[arg-type]
            infos=[_info(alert, content, agency, code, page) for code in languages],
            areas=_areas(content),
            references=[
                CapReference(who, cap_identifier(alert, v.version), v.sent_at)
                for v in versions[:-1]
            ],
            note=current.note if current else None,
        )
    )


def atom_index(*, session: Session, public_url: str, now: datetime.datetime) -> bytes:
    """The Atom index of active alerts, each linking to its CAP document and page."""
    alerts = store.fetch_active_alerts(session=session, now=now)
    entries = []
    for alert in alerts:
        content = AlertContent.from_stored(alert.content)
        with force_locale("en"):
            title = gettext("AMBER Alert: %(children)s", children=child_summary(content))
        entries.append(
            AtomEntry(
                id=f"urn:haven:alert:{alert.id}:v{alert.version}",
                title=title,
                updated=alert.sent_at or alert.created_at,
                cap_url=f"{public_url}/alerts/{alert.id}.cap",
                page_url=f"{public_url}/alerts/{alert.id}",
            )
        )
    return render_atom(
        feed_id=f"{public_url}/alerts/feed.atom",
        title="Haven AMBER Alerts",
        updated=max((e.updated for e in entries), default=now),
        self_url=f"{public_url}/alerts/feed.atom",
        entries=entries,
    )
