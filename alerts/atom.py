"""An Atom 1.0 index of CAP alerts, like the NWS's: one entry per alert, linking its CAP.

Built with ElementTree, so every text and attribute is escaped; nothing is concatenated.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.cap import xml_safe

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CAP_MEDIA_TYPE = "application/cap+xml"
_IRI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")


@dataclass(frozen=True)
class AtomCategory:
    """An Atom `<category>`: a `term`, in the vocabulary its `scheme` (an absolute IRI) names."""

    term: str
    scheme: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.term:
            raise ValueError("a category needs a term")
        if self.scheme is not None:
            _check_iri(self.scheme, "the category's scheme")


@dataclass(frozen=True)
class AtomEnclosure:
    """A file that goes with an entry, such as a child's photo: an Atom `<link
    rel="enclosure">` with its media type and its length in bytes."""

    href: str
    media_type: str
    length: int

    def __post_init__(self) -> None:
        _check_iri(self.href, "the enclosure's href")
        if self.length < 0:
            raise ValueError("an enclosure's length is a number of bytes, 0 or more")


@dataclass(frozen=True)
class AtomEntry:
    """One alert: `id` is an absolute IRI (its URN, or its CAP identifier if one)."""

    id: str
    title: str
    updated: dt.datetime
    cap_url: str
    page_url: str
    summary: str | None = None
    categories: tuple[AtomCategory, ...] = ()
    enclosures: tuple[AtomEnclosure, ...] = ()

    def __post_init__(self) -> None:
        for what, value in (("id", self.id), ("cap_url", self.cap_url), ("page", self.page_url)):
            _check_iri(value, f"the entry's {what}")
        _atom_time(self.updated)


def render_atom(
    *,
    feed_id: str,
    title: str,
    updated: dt.datetime,
    self_url: str,
    entries: Sequence[AtomEntry],
    author: str = "Haven",
    language: str | None = None,
) -> bytes:
    """The Atom feed (UTF-8 XML) listing `entries`, each linking its CAP and its public page.

    `language` (a tag such as "en-US") is written as the feed's `xml:lang`: the language of
    its titles and summaries.
    """
    _check_iri(feed_id, "the feed id")
    _check_iri(self_url, "the feed's self URL")
    # Plain names and an xmlns attribute: ElementTree's default_namespace option refuses
    # the unqualified attributes (rel, href) that Atom uses.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    if language:
        feed.set(XML_LANG, language)
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    _add(feed, "updated", _atom_time(updated))
    _link(feed, "self", "application/atom+xml", self_url)
    _add(_add(feed, "author"), "name", author)
    for entry in entries:
        element = _add(feed, "entry")
        _add(element, "id", entry.id)
        _add(element, "title", entry.title)
        _add(element, "updated", _atom_time(entry.updated))
        _link(element, "alternate", CAP_MEDIA_TYPE, entry.cap_url)
        _link(element, "alternate", "text/html", entry.page_url)
        for enclosure in entry.enclosures:
            ET.SubElement(
                element,
                "link",
                {
                    "rel": "enclosure",
                    "type": enclosure.media_type,
                    "length": str(enclosure.length),
                    "href": enclosure.href,
                },
            )
        if entry.summary:
            _add(element, "summary", entry.summary)
        for category in entry.categories:
            attributes = {"term": category.term}
            if category.scheme:
                attributes["scheme"] = category.scheme
            if category.label:
                attributes["label"] = category.label
            ET.SubElement(element, "category", {k: xml_safe(v) for k, v in attributes.items()})
    ET.indent(feed, space="  ")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, name)
    if text is not None:
        element.text = xml_safe(text)
    return element


def _link(parent: ET.Element, rel: str, media_type: str, href: str) -> None:
    ET.SubElement(parent, "link", {"rel": rel, "type": media_type, "href": href})


def _atom_time(moment: dt.datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"the time {moment.isoformat()} has no time zone")
    return moment.isoformat(timespec="seconds")


def _check_iri(value: str, what: str) -> None:
    if not _IRI_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not an absolute IRI such as 'urn:...' or 'https://...'"
        )
