"""The public Atom feed of AMBER alerts: which alerts it lists, what each entry says, and its
filters (`?state=IL`, `?point=lat,lon`). See docs/cap.md, "The Atom feed".

The feed lists every Actual alert that is out (its entry links the current CAP message, an
Alert or an Update) and, for `FeedRules.keep` after it went out, every cancellation: its entry
is titled "Cancelled: ...", carries the category `Cancel` and links the Cancel CAP, so that
an aggregator that showed the alert withdraws it. An expired alert leaves at once: its CAP
`expires` has already told every receiver.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from flask_babel import force_locale, gettext
from werkzeug.datastructures import MultiDict

from alerts.atom import AtomCategory, AtomEnclosure, AtomEntry, render_atom
from alerts.content import AlertContent, StoredArea
from alerts.photos import ChildPhoto
from alerts.publish import child_summary, vehicle_summary
from alerts.store import Published
from geo.areas import parse_area
from geo.coords import format_degrees, parse_decimal
from geo.errors import GeoError
from geo.same import lookup_same, same_areas, same_geometry
from haven.db import utcnow
from haven.errors import HavenError
from haven.settings import Settings

FEED_PATH = "/alerts/feed.atom"
FEED_TITLE = "Haven AMBER Alerts"
FEED_LANGUAGE = "en-US"  # of titles and summaries; the feed has no language parameter
PARAMETERS = ("state", "point")
MSG_TYPE_SCHEME = "urn:oasis:names:tc:emergency:cap:1.2:msgType"
"""The scheme of each entry's category: its term is the linked CAP message's `msgType`."""
SUMMARY_MAX = 400  # characters: a summary is a glance, the CAP and the page say the rest


@dataclass(frozen=True)
class FeedRules:
    """How long cancellations stay, and the clock the feed is reckoned by (tests move it)."""

    keep: datetime.timedelta = datetime.timedelta(hours=48)
    clock: Callable[[], datetime.datetime] = utcnow

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedRules:
        """The rules in force."""
        return cls(keep=datetime.timedelta(hours=settings.feed_keep_hours))


# Filters


class FeedFilterError(HavenError):
    """A feed filter that cannot be used: 400, naming the parameter."""

    status = 400
    code = "invalid_feed_filter"

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}", details={"parameter": parameter})


@dataclass(frozen=True)
class FeedFilter:
    """Which alerts a feed lists: all, those reaching into a state, those covering a point."""

    state: str | None = None  # a postal code such as "IL"
    point: tuple[float, float] | None = None  # lat, lon

    @property
    def query(self) -> str:
        """The filter as a query string ("" or "?state=IL&point=41.85,-87.7"), always
        written the same way, so that one filter has one feed id."""
        parts = []
        if self.state is not None:
            parts.append(f"state={self.state}")
        if self.point is not None:
            lat, lon = self.point
            parts.append(f"point={format_degrees(lat)},{format_degrees(lon)}")
        return "?" + "&".join(parts) if parts else ""

    def admits(self, item: FeedItem) -> bool:
        """Whether the alert belongs in this feed."""
        if self.state is not None and self.state not in item.states:
            return False
        if self.point is not None:
            lat, lon = self.point
            # A fresh geometry per request: shapely prepares it in place on first use, and
            # prepared geometries must not be shared between threads (docs/geo.md).
            # intersects, unlike contains, is true on the boundary, as the audience index.
            areas = shapely.from_wkb(item.areas)
            return bool(shapely.intersects_xy(areas, lon, lat))
        return True


def parse_feed_filter(args: MultiDict[str, str]) -> FeedFilter:
    """The feed's filter from its query parameters; FeedFilterError (400) names the first
    unknown, repeated or invalid one."""
    for name in args:
        if name not in PARAMETERS:
            shown = name if len(name) <= 40 else name[:39] + "…"
            raise FeedFilterError(shown, "unknown parameter; the feed takes state and point")
    for name in PARAMETERS:
        if len(args.getlist(name)) > 1:
            raise FeedFilterError(name, "given more than once; give it once")
    state = args.get("state")
    point = args.get("point")
    return FeedFilter(
        state=None if state is None else _parse_state(state),
        point=None if point is None else _parse_point(point),
    )


def _parse_state(text: str) -> str:
    code = text.strip().upper()
    if code not in _state_codes():
        raise FeedFilterError(
            "state", f"{text[:20]!r} is not a US state or territory code such as IL"
        )
    return code


def _parse_point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise FeedFilterError("point", f"{text[:40]!r} is not 'lat,lon' in decimal degrees")
    try:
        lat = parse_decimal(parts[0].strip(), "the latitude", GeoError)
        lon = parse_decimal(parts[1].strip(), "the longitude", GeoError)
    except GeoError as exc:
        raise FeedFilterError("point", str(exc)) from None
    if not -90.0 <= lat <= 90.0:
        raise FeedFilterError("point", f"the latitude {lat:g} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise FeedFilterError("point", f"the longitude {lon:g} is outside -180..180")
    return lat, lon


@functools.cache
def _state_codes() -> dict[str, str]:
    """Each state's and territory's postal code, with its SAME code ("IL": "017000")."""
    return {a.state: a.code for a in same_areas() if a.kind == "state" and a.state}


@functools.cache
def _state_bounds() -> dict[str, tuple[float, float, float, float]]:
    """Each state's bounding box (lon/lat): most states are ruled out by it alone."""
    bounds = {}
    for state, code in _state_codes().items():
        xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(same_geometry(code)))
        bounds[state] = (xmin, ymin, xmax, ymax)
    return bounds


def _states_reached(geometry: Any) -> set[str]:
    """The states whose interior the area's interior meets: an area that only touches a
    state's border does not reach into it."""
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    found = set()
    for state, (sxmin, symin, sxmax, symax) in _state_bounds().items():
        if sxmin > xmax or sxmax < xmin or symin > ymax or symax < ymin:
            continue
        state_geometry = same_geometry(_state_codes()[state])
        if shapely.relate_pattern(geometry, state_geometry, "T********"):
            found.add(state)
    return found


# Entries


@dataclass(frozen=True)
class FeedItem:
    """What the feed needs of one alert version, read once for every filter: its entry, the
    WKB of its areas (lon/lat) and the states they reach into."""

    entry: AtomEntry
    areas: bytes
    states: frozenset[str]

    @property
    def nbytes(self) -> int:
        """About how much memory it holds."""
        return len(self.areas) + 2048


def feed_item(
    *,
    published: Published,
    agency: str,
    public_url: str,
    photos: Sequence[ChildPhoto] = (),
) -> FeedItem:
    """One alert's feed entry and where it lies, from its stored content; the children's
    `photos` are its enclosures."""
    alert = published.alert
    content = AlertContent.from_stored(alert.content)
    cancelled = published.msg_type == "Cancel"
    with force_locale("en"):
        children = child_summary(content)
        title = gettext("AMBER Alert: %(children)s", children=children)
        lines = []
        if cancelled:
            # Translators: the title of a cancelled AMBER Alert in the public news feed
            # (Atom) that apps and websites read. %(headline)s is the alert's title, e.g.
            # "AMBER Alert: Jane Doe, age 7".
            title = gettext("Cancelled: %(headline)s", headline=title)
            lines.append(gettext("This alert has been cancelled."))
            if alert.cancel_reason == "child_found":
                lines.append(gettext("The child has been found."))
        lines.append(
            gettext("%(agency)s is looking for %(children)s.", agency=agency, children=children)
        )
        if vehicle := vehicle_summary(content):
            lines.append(vehicle)
        if names := area_names(content.areas):
            # Translators: the last sentence of an AMBER Alert's short summary in the public
            # news feed (Atom): where the alert is. %(areas)s lists the areas' names, e.g.
            # "Cook, IL; West Side".
            lines.append(gettext("Where: %(areas)s.", areas="; ".join(names)))
    geometries = [parse_area(a.kind, a.source, a.description).geometry for a in content.areas]
    return FeedItem(
        entry=AtomEntry(
            id=f"urn:haven:alert:{alert.id}:v{alert.version}",
            title=title,
            updated=published.sent_at,
            cap_url=f"{public_url}/alerts/{alert.id}.cap",
            page_url=f"{public_url}/alerts/{alert.id}",
            summary=_clip(" ".join(lines), SUMMARY_MAX),
            categories=(AtomCategory(published.msg_type, MSG_TYPE_SCHEME),),
            enclosures=tuple(
                AtomEnclosure(f"{public_url}{photo.path}", photo.media_type, photo.size)
                for photo in photos
            ),
        ),
        areas=bytes(shapely.to_wkb(shapely.geometrycollections(geometries))),
        states=frozenset(_states(content.areas, geometries)),
    )


def area_names(areas: Sequence[StoredArea]) -> list[str]:
    """The areas' names: each one's description, else the county or state its SAME code
    names ("Cook, IL"); a drawn area without a description has none."""
    names = []
    for area in areas:
        if area.description:
            names.append(area.description)
        elif area.same is not None:
            same = lookup_same(area.same)
            names.append(
                f"{same.name}, {same.state}" if same.kind == "county" and same.state else same.name
            )
    return list(dict.fromkeys(names))


def _states(areas: Sequence[StoredArea], geometries: Sequence[Any]) -> set[str]:
    """The states an alert's areas reach into: a SAME code's own state, else by geometry
    (drawn areas, and marine zones, which belong to no state)."""
    found: set[str] = set()
    for area, geometry in zip(areas, geometries, strict=True):
        same = lookup_same(area.same) if area.same is not None else None
        if same is not None and same.state:
            found.add(same.state)
        else:
            found |= _states_reached(geometry)
    return found


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_feed(
    *,
    items: Sequence[FeedItem],
    wanted: FeedFilter,
    public_url: str,
    now: datetime.datetime,
) -> bytes:
    """The Atom feed of `items` (already filtered), with the filter's own id and self link.

    Dated by its newest entry, or `now` when it has none.
    """
    url = f"{public_url}{FEED_PATH}{wanted.query}"
    return render_atom(
        feed_id=url,
        title=FEED_TITLE,
        updated=max((item.entry.updated for item in items), default=now),
        self_url=url,
        entries=[item.entry for item in items],
        language=FEED_LANGUAGE,
    )
