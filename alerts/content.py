"""An alert's content as it is stored, and what one version changed against the one before.

`AlertContent.from_stored` is the one way to read a stored `content` dict (an alert's or an
alert version's). It checks types only: never today's input rules (phone numbers, lengths,
plate patterns, languages), which apply to requests in `alerts/schemas.py`. A value that was
accepted once stays readable, rendered, published and dispatched however the rules change.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from haven.languages import LANGUAGES


class Stored(BaseModel):
    """Base of the stored shapes: types only; keys an older Haven wrote are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class StoredChild(Stored):
    """A missing child, as stored."""

    name: str
    age: int | None = None
    description: str | None = None
    photo_url: str | None = None


class StoredSuspect(Stored):
    """A suspected abductor, as stored."""

    name: str | None = None
    description: str | None = None


class StoredVehicle(Stored):
    """The suspect vehicle, as stored."""

    make: str | None = None
    model: str | None = None
    color: str | None = None
    plate: str | None = None
    plate_state: str | None = None


class StoredLastSeen(Stored):
    """When and where the child was last seen, and which way they were heading, as stored
    (an alert stored before `direction` existed has none)."""

    at: datetime.datetime | None = None
    place: str | None = None
    direction: str | None = None


class StoredArea(Stored):
    """One area, as stored: one of polygon, circle, geojson or same."""

    polygon: str | None = None
    circle: str | None = None
    geojson: dict[str, Any] | None = None
    same: str | None = None
    description: str | None = None

    @property
    def kind(self) -> str:
        """Which form this area takes."""
        return next(k for k in ("polygon", "circle", "geojson", "same") if getattr(self, k))

    @property
    def source(self) -> Any:
        """The area as given."""
        return getattr(self, self.kind)


class AlertContent(Stored):
    """An alert's stored content. Build it with `from_stored`."""

    status: str
    expires: datetime.datetime
    areas: list[StoredArea] = []
    children: list[StoredChild] = []
    suspects: list[StoredSuspect] = []
    vehicle: StoredVehicle | None = None
    last_seen: StoredLastSeen | None = None
    contact_phone: str = ""
    texts: dict[str, str] = {}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> AlertContent:
        """The content of a stored `content` dict, checked for types only."""
        return cls.model_validate(dict(data))

    @property
    def first_language(self) -> str | None:
        """The alert's first language: the first of its texts' languages in Haven's order
        (English first), or None if it has no text. JSON columns do not keep key order."""
        return next((code for code in LANGUAGES if code in self.texts), None)


# The parts of an alert an update can change, as `Changes.fields` names them.
FIELDS = (
    "expires",
    "areas",
    "children",
    "suspects",
    "vehicle",
    "last_seen",
    "contact_phone",
    "texts",
)


@dataclasses.dataclass(frozen=True)
class Changes:
    """What a version changed against the one before: the fields, and the languages whose
    text is new or different (a removed text is in `fields` as "texts" only)."""

    fields: frozenset[str]
    languages: tuple[str, ...]  # in Haven's language order

    @classmethod
    def between(cls, before: AlertContent, after: AlertContent) -> Changes:
        """The changes from `before` to `after`."""
        fields = frozenset(f for f in FIELDS if getattr(before, f) != getattr(after, f))
        languages = tuple(
            code
            for code in LANGUAGES
            if code in after.texts and after.texts[code] != before.texts.get(code)
        )
        return cls(fields, languages)

    def news_language(self, *, reader: str, content: AlertContent) -> str | None:
        """Which language's new text a reader of `reader` is shown: their own if this version
        wrote it; else the alert's first language if this version wrote that; else the first
        language this version wrote; None when no text is new."""
        if not self.languages:
            return None
        if reader in self.languages:
            return reader
        first = content.first_language
        return first if first in self.languages else self.languages[0]
