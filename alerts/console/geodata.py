"""The console's map data under /console/geo/: the bundled state and county outlines simplified
for display, the counties and states an officer may choose by name, and ZIP code centres.

Signed-in officers only: anyone else gets a 401 JSON error. The outlines and names are built
once per process and served with an ETag, so a browser revalidates with a 304 instead of
downloading them again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from flask import Response, request

from alerts.console import bp
from alerts.console.json_auth import signed_in_json
from geo.errors import GeoError
from geo.locations import zip_place
from geo.outlines import county_outlines, places, state_codes, state_outlines
from haven.errors import InvalidInput, NotFound

MAX_AGE_SECONDS = 3600
"""How long a browser may use its copy before revalidating: the data changes only with a
new release, and the ETag makes the check cheap."""


@bp.get("/geo/states.json")
@signed_in_json
def states() -> Response:
    """Every state and territory's outline, simplified: properties name, abbr, same."""
    return _cached(_states_json())


@bp.get("/geo/counties/<abbr>.json")
@signed_in_json
def counties(abbr: str) -> Response:
    """One state's county outlines, simplified: properties name, same, state."""
    state = abbr.upper()
    if state not in state_codes():
        raise NotFound(f"No state or territory has the postal code {abbr!r}.")
    return _cached(_counties_json(state))


@bp.get("/geo/places.json")
@signed_in_json
def place_names() -> Response:
    """The counties and states an alert area may name by SAME code, for a typeahead."""
    return _cached(_places_json())


@bp.get("/geo/zip/<zip_code>.json")
@signed_in_json
def zip_centre(zip_code: str) -> Response:
    """A ZIP code's centre and the place it serves: {"zip", "lat", "lon", "place"}."""
    if not (len(zip_code) == 5 and zip_code.isascii() and zip_code.isdigit()):
        raise InvalidInput(f"{zip_code!r} is not a US ZIP code (5 digits).", code="invalid_zip")
    try:
        location, place = zip_place(zip_code)
    except GeoError:
        raise NotFound(f"ZIP code {zip_code} is not a known US ZIP code.") from None
    body = {"zip": zip_code, "lat": location.lat, "lon": location.lon, "place": place}
    return _cached(_encoded(body))


Encoded = tuple[bytes, str]  # the JSON body and its ETag


def _encoded(value: Any) -> Encoded:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


@functools.cache
def _states_json() -> Encoded:
    return _encoded(state_outlines())


@functools.cache
def _counties_json(state: str) -> Encoded:
    return _encoded(county_outlines(state))


@functools.cache
def _places_json() -> Encoded:
    return _encoded(places())


def _cached(encoded: Encoded) -> Response:
    body, etag = encoded
    response = Response(body, mimetype="application/json")
    # Private: only signed-in officers may have it, so no shared cache keeps it.
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE_SECONDS}"
    response.set_etag(etag)
    response.make_conditional(request)  # 304 for a browser that has it
    return response
