"""Text messages to subscribers: a reply's template rendered in the subscriber's language.

The texts live in templates/sms/replies/<name>.txt, one translated sentence block each. A
reply is rendered with Babel forced to the subscriber's language, whatever language the request
itself would negotiate; a message its catalog lacks falls back to English. Rendering needs an app
context, not a request: replies are also sent from background threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from babel.lists import format_list
from flask import current_app
from flask_babel import force_locale, get_locale

from geo.locations import Location
from haven.i18n import ALL, DEFAULT_LANGUAGE
from haven.settings import get_settings

# The web form's path, named in the help text (pages.py serves it).
SUBSCRIBE_PATH = "/alerts/subscribe"


@dataclasses.dataclass(frozen=True)
class Reply:
    """A message to send: its template, the language, the places it names, other values."""

    template: str
    language: str = DEFAULT_LANGUAGE
    places: tuple[str, ...] = ()
    values: Mapping[str, object] = dataclasses.field(default_factory=dict)


def place_name(place: Location) -> str:
    """How a reply names a place: its ZIP code, or its coordinates to about a kilometre."""
    if place.zip_code:
        return place.zip_code
    return f"{place.lat:.2f},{place.lon:.2f}"


def place_names(places: Sequence[Location]) -> tuple[str, ...]:
    """Every place's name, in order."""
    return tuple(place_name(p) for p in places)


def format_places(names: Sequence[str]) -> str:
    """Place names as a list in the current language, e.g. "60601, 60614 and 60615"."""
    return format_list(list(names), locale=str(get_locale())) if names else ""


def render(reply: Reply) -> str:
    """The text of `reply` in its language, on one line."""
    language = ALL.get(reply.language, ALL[DEFAULT_LANGUAGE])
    with force_locale(language.catalog):
        # The template alone, without the request's context processors.
        text = current_app.jinja_env.get_template(f"sms/replies/{reply.template}.txt").render(
            places=format_places(reply.places),
            url=get_settings().public_url.rstrip("/") + SUBSCRIBE_PATH,
            **reply.values,
        )
    # Templates keep one sentence block a line; a text message is one paragraph.
    return " ".join(text.split())
