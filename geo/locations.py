"""Subscriber locations: a point (lat, lon) or a US ZIP code resolved to its centroid."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zipcodes

from geo.coords import check_lat_lon, check_number, parse_decimal
from geo.errors import LocationError

MAX_LOCATIONS_PER_SUBSCRIBER = 5

_ZIP_RE = re.compile(r"(\d{5})(?:-\d{4})?")

# The package's own module is unannotated; its stub says list_all() returns records.
_list_all: Callable[[], list[dict[str, Any]]] = zipcodes.list_all


@functools.cache
def _zip_table() -> dict[str, dict[str, Any]]:
    """Every ZIP code's record by code. `zipcodes.matching` scans the whole list per call
    (~0.4 ms); bulk imports look up hundreds of thousands of codes."""
    table: dict[str, dict[str, Any]] = {}
    for record in _list_all():
        table.setdefault(str(record["zip_code"]), record)
    return table


@dataclass(frozen=True)
class Location:
    """A validated subscriber location; zip_code is set when it came from a ZIP code."""

    lat: float
    lon: float
    zip_code: str | None = None


def point_location(lat: object, lon: object) -> Location:
    """Validate a point given as numbers; raise LocationError if it is not on the globe."""
    lat_value = check_number(lat, "the location's latitude", LocationError)
    lon_value = check_number(lon, "the location's longitude", LocationError)
    check_lat_lon(lat_value, lon_value, "the location", LocationError)
    return Location(lat=lat_value, lon=lon_value)


def zip_location(zip_code: str) -> Location:
    """Resolve a US ZIP code ("12345" or "12345-6789") to its centroid, or raise LocationError."""
    match = _ZIP_RE.fullmatch(zip_code.strip())
    if match is None:
        raise LocationError(f"{zip_code!r} is not a US ZIP code (5 digits)")
    five = match[1]
    record = _zip_table().get(five)
    if record is None:
        raise LocationError(f"ZIP code {five} is not a known US ZIP code")
    where = f"ZIP code {five}"
    try:
        lat = parse_decimal(str(record["lat"]).strip(), where, LocationError)
        lon = parse_decimal(str(record["long"]).strip(), where, LocationError)
    except LocationError:
        raise LocationError(f"ZIP code {five} has no known position") from None
    check_lat_lon(lat, lon, where, LocationError)
    return Location(lat=lat, lon=lon, zip_code=five)


def zip_place(zip_code: str) -> tuple[Location, str]:
    """A ZIP code's centroid and the place it serves ("Chicago, IL"); LocationError as
    `zip_location` raises it."""
    location = zip_location(zip_code)
    record = _zip_table()[str(location.zip_code)]
    return location, f"{record['city']}, {record['state']}"
