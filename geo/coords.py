"""Parsing and range checks for single coordinates, shared by areas and locations."""

from __future__ import annotations

import math
import re

from geo.errors import GeoError

# Plain decimal degrees, as CAP writes them: no exponents, no "nan"/"inf", no "1_000".
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_decimal(text: str, what: str, error: type[GeoError]) -> float:
    """Parse a plain decimal number, or raise `error` naming `what` and the bad text."""
    if not _DECIMAL_RE.fullmatch(text):
        raise error(f"{what}: {text!r} is not a decimal number")
    number = float(text)
    if not math.isfinite(number):
        raise error(f"{what}: the number is too large")
    return number


def check_number(value: object, what: str, error: type[GeoError]) -> float:
    """Return `value` as a float if it is a finite int or float (not a bool), else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{what}: {value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        raise error(f"{what}: the number is too large") from None
    if not math.isfinite(number):
        raise error(f"{what}: {value!r} is not a finite number")
    return number


def check_lat_lon(lat: float, lon: float, where: str, error: type[GeoError]) -> None:
    """Raise `error` unless -90 <= lat <= 90 and -180 <= lon <= 180."""
    if not -90.0 <= lat <= 90.0:
        raise error(f"{where}: latitude {lat} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise error(f"{where}: longitude {lon} is outside -180..180")


def format_degrees(value: float) -> str:
    """Format a coordinate with the fewest digits that read back to the same float."""
    return repr(float(value))
