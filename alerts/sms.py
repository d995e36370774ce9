"""Alert texts: what an SMS costs in segments, and each alert message in the reader's language.

`segments` counts a text as carriers do: GSM-7 (3GPP TS 23.038 default alphabet, each
extension character costing two septets) when every character has a GSM code, else UCS-2 in
UTF-16 code units. `render_sms` renders `templates/sms/<kind>.txt` in the subscriber's
language and fits it to a segment budget by leaving out optional parts in `DROP_ORDER`; the
plate and the link are never left out. In a right-to-left language the phone number and the
plate are isolated (U+2066 ... U+2069) so that they read left to right. `render_channel`
renders the same templates in full for email, push and webhooks. Both need an app context
(Flask-Babel's catalogs); render once per alert version and language, not once per
subscriber. See docs/sms.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from babel.lists import format_list
from flask import current_app, has_app_context
from flask_babel import force_locale, get_locale

from alerts.content import AlertContent, Changes
from haven import i18n

log = logging.getLogger(__name__)

importlib.import_module("gsm0338")  # registers the "gsm03.38" codec
GSM_CODEC = "gsm03.38"
ESCAPE = 0x1B  # GSM-7's escape to the extension table: "€" is ESC then 0x65

Encoding = Literal["GSM-7", "UCS-2"]
Kind = Literal["alert", "update", "cancel"]
KINDS: tuple[Kind, ...] = ("alert", "update", "cancel")
# Units per message when it fits in one, and per segment of a concatenated message (the
# rest of each segment holds the concatenation header).
SINGLE: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
PER_SEGMENT: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}

# Unicode's left-to-right isolate and pop directional isolate: around a phone number (or a
# plate that starts with a digit) in a right-to-left language's message, so that
# "+18005551234" is not shown as "18005551234+". One UCS-2 unit each; such a message is
# UCS-2 already.
LRI, PDI = "\u2066", "\u2069"
# What render_sms leaves out, one after the other, until the message fits its budget (the
# keys of _DROPS, in this order).
DROP_ORDER = ("text", "suspects", "place", "child_descriptions", "vehicle")
ELLIPSIS = "…"
MIN_KEPT = 12  # a truncated name keeps at least this many characters
# Typographic characters that have a GSM-7 equivalent: one curly apostrophe from a word
# processor would otherwise turn a whole message into UCS-2 and halve its room.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "−": "-",
        "…": "...",
    }
)


@dataclasses.dataclass(frozen=True)
class Segments:
    """What a text costs: its encoding, its length in septets or UTF-16 units, its segments."""

    encoding: Encoding
    units: int
    count: int


def segments(text: str) -> Segments:
    """How many SMS segments `text` takes (an empty text still takes one).

    A concatenated message never splits an escape pair or a surrogate pair across
    segments, so a segment may hold one unit less than its 153 or 67.
    """
    costs = _gsm_costs(text)
    if costs is not None:
        return _pack("GSM-7", costs)
    return _pack("UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text])


def _gsm_costs(text: str) -> list[int] | None:
    """Septets per character, or None if some character has no GSM-7 code."""
    if "\x1b" in text:  # the codec passes ESC through, but it is not a character to send
        return None
    try:
        encoded = text.encode(GSM_CODEC)
    except UnicodeEncodeError:
        return None
    costs: list[int] = []
    index = 0
    while index < len(encoded):
        cost = 2 if encoded[index] == ESCAPE else 1
        costs.append(cost)
        index += cost
    return costs


def _pack(encoding: Encoding, costs: Sequence[int]) -> Segments:
    units = sum(costs)
    if units <= SINGLE[encoding]:
        return Segments(encoding, units, 1)
    count, used = 1, 0
    for cost in costs:
        if used + cost > PER_SEGMENT[encoding]:
            count, used = count + 1, 0
        used += cost
    return Segments(encoding, units, count)


def fits(text: str, budget: int) -> bool:
    """Whether `text` takes at most `budget` segments."""
    return segments(text).count <= budget


@dataclasses.dataclass(frozen=True)
class _Child:
    name: str
    age: int | None
    description: str | None


@dataclasses.dataclass(frozen=True)
class _Suspect:
    name: str | None
    description: str | None


@dataclasses.dataclass(frozen=True)
class _Parts:
    """The words of one message, before rendering; fitting replaces some with None."""

    agency: str
    children: tuple[_Child, ...]
    others: int  # children left unnamed after shortening the list
    plate: str | None
    vehicle: str | None
    suspects: tuple[_Suspect, ...]
    place: str | None
    direction: str | None  # which way, when last seen; left out with the place
    text: str | None
    phone: str
    link: str
    test: bool  # an Exercise or Test alert, which says so first
    child_descriptions: bool = True
    text_language: str | None = None  # the text's language, when not the reader's
    area_changed: bool = False  # an update's notices of what has no part of its own
    expiry_changed: bool = False
    news_only: bool = False  # an update that keeps only what it changed
    dropped: bool = False  # a part was left out to fit

    def context(self, *, found: bool = False) -> dict[str, Any]:
        """The template's variables."""
        children = [
            dataclasses.replace(c, description=c.description if self.child_descriptions else None)
            for c in self.children
        ]
        names = format_list([c.name for c in self.children], locale=get_locale())
        text_language = None
        if self.text_language is not None:
            # The language's name in the reader's language ("inglés", "الإسبانية").
            text_language = i18n.name_in(self.text_language, get_locale())
        return {
            "agency": self.agency,
            "children": children,
            "others": self.others,
            "plate": self.plate,
            "vehicle": self.vehicle,
            "suspects": list(self.suspects),
            "place": self.place,
            "direction": self.direction,
            "text": self.text,
            "text_language": text_language,
            "area_changed": self.area_changed,
            "expiry_changed": self.expiry_changed,
            # An update that had to leave out some of its news says where to read it.
            "more": self.news_only and self.dropped,
            "phone": self.phone,
            "link": self.link,
            "test": self.test,
            "found": found,
            "names": names,
            "num": len(self.children) + self.others,
        }


def _isolated(value: str, language: str) -> str:
    """`value` (a phone number, a plate) isolated as left to right in a right-to-left
    language's message, so that the reader's phone keeps its characters in order.

    A value that starts with a Latin letter ("IL ABC1234") needs no isolates: the letter
    makes everything after it read left to right up to the next Arabic letter. One that
    starts with "+" or a digit is reordered without them ("18005551234+").
    """
    if i18n.ALL[language].direction != "rtl" or (value[:1].isascii() and value[:1].isalpha()):
        return value
    return f"{LRI}{value}{PDI}"


def _as_sent(text: str) -> str:
    """`text` as it is sent: typographic characters made plain and isolates left out when
    that makes it GSM-7 (a right-to-left reader whose catalog lacks the translations gets
    Latin text, where isolates would only double the cost). A text that stays UCS-2 is
    sent as it is: there "…" costs one unit, and "..." three."""
    plain = text.translate(_PLAIN).replace(LRI, "").replace(PDI, "")
    return plain if _gsm_costs(plain) is not None else text


def _clean(value: str | None) -> str | None:
    """Agency-written text on one line: whitespace runs (newlines too) become one space."""
    if value is None:
        return None
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return cleaned or None


def _parts(
    content: AlertContent, *, language: str, agency: str, link: str, changes: Changes | None
) -> _Parts:
    """The words of one message; an update (`changes` given) keeps of the optional parts only
    those it changed, and its new text (docs/sms.md, "Updates")."""
    vehicle = content.vehicle
    plate = None
    described = None
    if vehicle is not None:
        if vehicle.plate:
            plate = _isolated(
                f"{vehicle.plate_state} {vehicle.plate}" if vehicle.plate_state else vehicle.plate,
                language,
            )
        described = _clean(" ".join(p for p in (vehicle.color, vehicle.make, vehicle.model) if p))
    suspects = tuple(
        _Suspect(_clean(s.name), _clean(s.description))
        for s in content.suspects
        if _clean(s.name) or _clean(s.description)
    )
    parts = _Parts(
        agency=_clean(agency) or agency,
        children=tuple(
            _Child(_clean(c.name) or c.name, c.age, _clean(c.description)) for c in content.children
        ),
        others=0,
        plate=plate,
        vehicle=described,
        suspects=suspects,
        place=_clean(content.last_seen.place) if content.last_seen else None,
        direction=_clean(content.last_seen.direction) if content.last_seen else None,
        # Only the agency's own words in this language: never another language's text.
        text=_clean(content.texts.get(language)),
        phone=_isolated(content.contact_phone, language),
        link=link,
        test=content.status != "Actual",
    )
    if changes is None:
        return parts
    news = changes.news_language(reader=language, content=content)
    return dataclasses.replace(
        parts,
        vehicle=parts.vehicle if "vehicle" in changes.fields else None,
        suspects=parts.suspects if "suspects" in changes.fields else (),
        place=parts.place if "last_seen" in changes.fields else None,
        direction=parts.direction if "last_seen" in changes.fields else None,
        child_descriptions="children" in changes.fields,
        # Never the reader's unchanged text: the news, in the language it was written in.
        text=_clean(content.texts[news]) if news else None,
        text_language=news if news and news != language else None,
        area_changed="areas" in changes.fields,
        expiry_changed="expires" in changes.fields,
        news_only=True,
    )


# Each step leaves out the next part of DROP_ORDER.
_DROPS: dict[str, Callable[[_Parts], _Parts]] = {
    "text": lambda p: _drop(p, text=None) if p.text else p,
    "suspects": lambda p: _drop(p, suspects=()) if p.suspects else p,
    "place": lambda p: _drop(p, place=None, direction=None) if p.place or p.direction else p,
    "child_descriptions": lambda p: (
        _drop(p, child_descriptions=False)
        if p.child_descriptions and any(c.description for c in p.children)
        else p
    ),
    "vehicle": lambda p: _drop(p, vehicle=None) if p.vehicle else p,
}


def _drop(parts: _Parts, **left_out: Any) -> _Parts:
    return dataclasses.replace(parts, dropped=True, **left_out)


def _shorten_children(parts: _Parts) -> _Parts:
    """Name only the first child ("Jane Doe, age 7, and 1 other child")."""
    if len(parts.children) < 2:
        return parts
    return dataclasses.replace(
        parts, children=parts.children[:1], others=parts.others + len(parts.children) - 1
    )


def _truncate(value: str, by: int) -> str | None:
    """`value` cut by `by` characters and ended with an ellipsis, or None if too short."""
    kept = value.removesuffix(ELLIPSIS)
    if len(kept) <= MIN_KEPT:
        return None
    return kept[: max(MIN_KEPT, len(kept) - max(1, by))].rstrip() + ELLIPSIS


def _truncate_names(parts: _Parts, by: int) -> _Parts | None:
    """Cut the agency's name, else the longest child's name that can still be cut."""
    agency = _truncate(parts.agency, by)
    if agency is not None:
        return dataclasses.replace(parts, agency=agency)
    order = sorted(range(len(parts.children)), key=lambda i: -len(parts.children[i].name))
    for index in order:
        name = _truncate(parts.children[index].name, by)
        if name is not None:
            children = list(parts.children)
            children[index] = dataclasses.replace(children[index], name=name)
            return dataclasses.replace(parts, children=tuple(children))
    return None


def _over(text: str, budget: int) -> int:
    """Roughly how many units `text` has beyond `budget` segments."""
    counted = segments(text)
    room = SINGLE[counted.encoding] if budget == 1 else PER_SEGMENT[counted.encoding] * budget
    return max(1, counted.units - room)


def _fit(render: Callable[[_Parts], str], parts: _Parts, *, budget: int, drops: bool) -> str:
    """Render `parts`, leaving out what must go to fit `budget` segments (docs/sms.md)."""
    text = render(parts)
    steps = [*(_DROPS[name] for name in DROP_ORDER), _shorten_children] if drops else []
    for step in steps:
        if fits(text, budget):
            return text
        smaller = step(parts)
        if smaller != parts:
            parts, text = smaller, render(smaller)
    while not fits(text, budget):
        shorter = _truncate_names(parts, _over(text, budget))
        if shorter is None:
            counted = segments(text)
            log.warning(
                "SMS over budget: %d %s segments for a budget of %d",
                counted.count,
                counted.encoding,
                budget,
            )
            return text
        parts, text = shorter, render(shorter)
    return text


def _lines(rendered: str) -> list[str]:
    """Template output as its non-blank lines, inner whitespace collapsed."""
    return [line for line in (" ".join(raw.split()) for raw in rendered.splitlines()) if line]


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if not has_app_context():
        raise RuntimeError("alert texts are rendered inside an app context (for the catalogs)")


def _known(language: str) -> str:
    if language in i18n.ALL:
        return language
    log.warning("unknown language %r: rendering in English", language)
    return i18n.DEFAULT_LANGUAGE


@contextlib.contextmanager
def _in_language(language: str) -> Iterator[None]:
    """Flask-Babel forced to the catalog of `language` (a public code, e.g. tl -> fil)."""
    with force_locale(i18n.ALL[language].catalog):
        yield


def _render_lines(
    *, kind: Kind, cancel_reason: str | None, language: str
) -> Callable[[_Parts], list[str]]:
    template = current_app.jinja_env.get_template(f"sms/{kind}.txt")
    found = cancel_reason == "child_found"

    def render(parts: _Parts) -> list[str]:
        with _in_language(language):
            return _lines(template.render(parts.context(found=found)))

    return render


def _safely(language: str, render: Callable[[str], str]) -> str:
    """Render in `language`; if its catalog breaks the template (a mistyped placeholder),
    send English rather than nothing."""
    try:
        return render(language)
    except (KeyError, ValueError, TypeError):
        if language == i18n.DEFAULT_LANGUAGE:
            raise
        log.exception("the %s SMS templates failed; sending English instead", language)
        return render(i18n.DEFAULT_LANGUAGE)


def _changes(
    kind: Kind, content: AlertContent, previous_content: dict[str, Any] | None
) -> Changes | None:
    """What an update changed, when the version before it is known."""
    if kind != "update" or previous_content is None:
        return None
    return Changes.between(AlertContent.from_stored(previous_content), content)


def render_sms(
    *,
    alert_content: dict[str, Any],
    previous_content: dict[str, Any] | None = None,
    kind: Kind,
    cancel_reason: str | None = None,
    agency: str,
    language: str,
    link: str,
    budget: int = 2,
) -> str:
    """The SMS for one alert version in `language`, fitted to `budget` segments if it can be.

    `alert_content` is the version's stored content (read by `AlertContent.from_stored`,
    never re-validated); `previous_content` the version before it, which makes an update
    say what changed. `link` is the alert's short page URL. The plate and the link are
    always kept.
    """
    _check(kind)
    content = AlertContent.from_stored(alert_content)
    changes = _changes(kind, content, previous_content)

    def in_language(code: str) -> str:
        parts = _parts(content, language=code, agency=agency, link=link, changes=changes)
        lines = _render_lines(kind=kind, cancel_reason=cancel_reason, language=code)
        return _fit(
            lambda p: _as_sent("\n".join(lines(p))),
            parts,
            budget=budget,
            drops=kind != "cancel",
        )

    return _safely(_known(language), in_language)


def render_channel(
    *,
    alert_content: dict[str, Any],
    previous_content: dict[str, Any] | None = None,
    kind: Kind,
    cancel_reason: str | None = None,
    agency: str,
    language: str,
    link: str,
) -> tuple[str, str]:
    """The (title, body) of one alert version for Apprise channels: every part, no budget.

    The title is the message's first line; the body is the whole message. The contents are
    read as `render_sms` reads them.
    """
    _check(kind)
    content = AlertContent.from_stored(alert_content)
    changes = _changes(kind, content, previous_content)

    def in_language(code: str) -> str:
        parts = _parts(content, language=code, agency=agency, link=link, changes=changes)
        lines = _render_lines(kind=kind, cancel_reason=cancel_reason, language=code)
        return "\n".join(lines(parts))

    body = _safely(_known(language), in_language)
    return body.split("\n", 1)[0], body
