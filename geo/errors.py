"""Domain errors raised by geo: one type per input kind, all of them ValueErrors."""

from __future__ import annotations


class GeoError(ValueError):
    """Geographic input that cannot be used; the message says what is wrong and where."""

    code = "invalid_geo"


class AreaError(GeoError):
    """An alert area that cannot be parsed, is invalid, or is not known."""

    code = "invalid_area"


class LocationError(GeoError):
    """A subscriber location that cannot be parsed or resolved."""

    code = "invalid_location"
