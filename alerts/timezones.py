"""Times as the public reads them: the time zone an agency's alerts are shown in, and a time
written in the reader's language, in that zone, with its abbreviation ("Nov 22, 3:40 PM CST")
and as a distance from now ("2 hours ago").

An agency's zone is the IANA name the operator gives (`haven agency add --timezone`), or else
the zone at a point inside its jurisdiction (timezonefinder), found when it is registered. An
agency registered before Haven kept zones has none stored: its zone is found the same way
when a page needs it.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import threading
import zoneinfo
from typing import Any

import shapely
from babel import Locale
from babel.dates import format_skeleton, format_time, format_timedelta, get_timezone_gmt
from shapely.geometry import shape

from alerts.models import Agency
from haven.errors import InvalidInput

FALLBACK_ZONE = "UTC"  # where timezonefinder knows no zone
# Names the tz database folder holds that are not zones a person would mean.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_ROOT = Locale.parse("root")  # CLDR's fallback data: no words, only "-2 h"
_finder_lock = threading.Lock()


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA time zone name this machine's tz database knows."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone (America/Chicago), else InvalidInput naming the
    closest names, for the operator to correct."""
    if name in zone_names():
        return name
    close = difflib.get_close_matches(name, sorted(zone_names()), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise InvalidInput(
        f"timezone: {name!r} is not an IANA time zone such as America/Chicago.{hint}",
        code="invalid_timezone",
    )


@functools.cache
def _finder() -> Any:
    # Imported and loaded on first use, once per process: it takes a second or two, which
    # no process should pay just to start.
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def timezone_at(geometry: Any) -> str:
    """The IANA zone at a point inside `geometry` (lon/lat; a jurisdiction), or UTC."""
    point = shapely.point_on_surface(geometry)
    with _finder_lock:  # the finder reads its data files through shared state
        name = _finder().timezone_at(lng=float(point.x), lat=float(point.y))
    return name if name in zone_names() else FALLBACK_ZONE


def agency_timezone(agency: Agency) -> str:
    """The zone the agency's alert times are shown in: its own, else its jurisdiction's."""
    if agency.timezone:
        return agency.timezone
    return timezone_at(shape(agency.jurisdiction))


@functools.lru_cache(maxsize=4096)  # pages show the same few times in each language
def local_time(moment: datetime.datetime, *, zone: str, locale: Locale) -> str:
    """`moment` as `locale` writes a short date and a time, in `zone`, with the zone's
    abbreviation: "Nov 22, 3:40 PM CST", "22 nov, 15:40 CST", "11月22日 CST 15:40".

    The abbreviation is the tz database's (CST, EST, AKST, ChST), which US readers see on
    clocks and TV whatever their language; CLDR has one for English only. A zone whose
    abbreviation is a number (-03) is written as `locale` writes an offset ("GMT-03:00").
    """
    tz = zoneinfo.ZoneInfo(zone)
    local = moment.astimezone(tz)
    abbreviation = local.tzname() or ""
    if not abbreviation[:1].isalpha():
        abbreviation = get_timezone_gmt(local, width="long", locale=locale)
    time = format_time(local, "short", tzinfo=tz, locale=locale)
    # Where the zone goes is the locale's: CLDR's long time format puts it first in Chinese.
    zone_first = str(locale.time_formats["long"].pattern).lstrip().startswith("z")
    time = f"{abbreviation} {time}" if zone_first else f"{time} {abbreviation}"
    date = format_skeleton("MMMd", local, tzinfo=tz, locale=locale)
    return str(locale.datetime_formats["medium"]).format(time, date)


def time_ago(moment: datetime.datetime, *, now: datetime.datetime, locale: Locale) -> str | None:
    """How long ago `moment` was, or how far ahead it is, as `locale` says it ("2 hours ago",
    "in 3 hours"), to the minute (a time within a minute of now is "1 minute ago"). None for
    a language whose CLDR data has no words for it (Central Kurdish): "-2 h" helps nobody."""
    if not _has_words_for_time_ago(locale):
        return None
    delta = moment - now
    minute = datetime.timedelta(minutes=1)
    if abs(delta) < minute:
        delta = minute if delta > datetime.timedelta(0) else -minute
    text: str = format_timedelta(delta, granularity="minute", add_direction=True, locale=locale)
    return text


@functools.cache
def _has_words_for_time_ago(locale: Locale) -> bool:
    """Whether CLDR says "2 hours ago" in `locale` other than as its fallback does."""
    sample = datetime.timedelta(hours=-2)
    said = format_timedelta(sample, add_direction=True, locale=locale)
    return bool(said != format_timedelta(sample, add_direction=True, locale=_ROOT))
