"""An alert's page as a member of the public reads it: every field the officer gave, times in
the agency's zone, the alert's end said first, numbers that read left to right, the area among
its counties, past alerts by month, and a page in the reader's language for an alert that is
not public. (Layout at phone width: test_alert_pages_browser.py.)"""

from __future__ import annotations

import datetime
import re
from typing import Any

import lxml.html
from flask import Flask
from flask.testing import FlaskClient

from alerts.models import Alert
from alerts.service import expire_alerts
from haven.db import get_session, utcnow
from haven.i18n import ALL, LANGUAGES
from tests.alerts.test_alerts_api import act, send
from tests.factories import catalog_text

EVERYTHING: dict[str, Any] = {
    "children": [
        {"name": "Jane Doe", "age": 7, "description": "brown hair, red jacket"},
        {"name": "Jimmy Doe", "age": 4, "description": "blond, green coat"},
    ],
    "suspects": [
        {"name": "John Roe", "description": "white male, 40s, grey hoodie"},
        {"description": "woman with a limp"},
    ],
    "vehicle": {
        "make": "Ford",
        "model": "Focus",
        "color": "blue",
        "plate": "ABC1234",
        "plate_state": "IL",
    },
    "last_seen": {
        "at": "2026-11-22T12:30:00-06:00",
        "place": "Millennium Park",
        "direction": "north on Lake Shore Drive",
    },
    "contact_phone": "+18005551234",
    "texts": {"en": "Call 911 with any information.", "es": "Llame al 911."},
    "areas": [{"same": "017031"}, {"circle": "41.85,-87.75 5", "description": "West Side"}],
}


def page(client: FlaskClient, path: str, language: str = "en") -> Any:
    client.set_cookie("lang", language)
    response = client.get(path)
    assert response.status_code == 200, path
    return lxml.html.fromstring(response.get_data(as_text=True))


def text_of(element: Any) -> str:
    """An element's text, runs of ASCII white space made one space (a narrow no-break space
    between a time and PM, as CLDR writes it, stays)."""
    return re.sub(r"[ \t\r\n]+", " ", element.text_content()).strip()


def test_every_field_the_officer_gave_is_on_the_page(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers, **EVERYTHING)
    document = page(client, f"/alerts/{alert['id']}")
    main = text_of(document.get_element_by_id("main"))
    for value in (
        "Jane Doe",
        "Jimmy Doe",
        "brown hair, red jacket",
        "blond, green coat",
        "John Roe",
        "white male, 40s, grey hoodie",
        "woman with a limp",
        "blue Ford Focus",
        "IL ABC1234",
        "Millennium Park",  # the last-seen place
        "north on Lake Shore Drive",  # the direction of travel
        "Nov 22, 12:30\u202fPM CST",  # the last-seen time
        "(800) 555-1234",
        "Call 911 with any information.",
        "Llame al 911.",  # the other language's text, under "In other languages"
        "Cook, IL",
        "West Side",
    ):
        assert value in main, value
    ages = [
        text_of(dd) for dd in document.xpath("//section[@aria-labelledby='children-title']//dd")
    ]
    assert ages[0] == "7"
    assert ages[2] == "4"
    assert document.xpath("//dd[@lang='es']/text()") == ["Llame al 911."]
    assert f"haven-alert-{alert['id']}-v1" in main  # the reference broadcasters quote
    assert document.xpath("//a[starts-with(@href, 'tel:')]/@href")[0] == "tel:+18005551234"


def last_seen_facts(document: Any) -> list[tuple[str, str]]:
    """The label and value of each line under "Last seen"."""
    rows = document.xpath("//section[@aria-labelledby='last-seen-title']//dl/div")
    return [(text_of(row.find("dt")), text_of(row.find("dd"))) for row in rows]


def test_the_direction_of_travel_follows_the_last_seen_place_labelled_in_each_language(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers, **EVERYTHING)
    for language in ("en", "es", "ar", "zh"):
        facts = last_seen_facts(page(client, f"/alerts/{alert['id']}", language))
        assert [value for _, value in facts[1:]] == ["Millennium Park", "north on Lake Shore Drive"]
        assert facts[2][0] == catalog_text(language, "Direction of travel"), language
    without = send(client, officers, last_seen={"place": "Navy Pier"})
    assert last_seen_facts(page(client, f"/alerts/{without['id']}")) == [("Where", "Navy Pier")]
    heading_only = send(client, officers, last_seen={"direction": "west on I-290"})
    assert last_seen_facts(page(client, f"/alerts/{heading_only['id']}")) == [
        ("Direction of travel", "west on I-290")
    ]


def test_times_are_shown_in_the_agencys_zone_with_its_abbreviation_and_how_long_ago(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    document = page(client, f"/alerts/{alert['id']}")
    times = {
        text_of(div.find("dt")): div.find("dd")
        for div in document.xpath("//dl[contains(@class, 'alert-facts')]/div")
    }
    assert set(times) == {"Issued", "Ends", "Contact"}
    issued = times["Issued"]
    assert re.fullmatch(r"\w{3} \d{1,2}, \d{1,2}:\d\d\u202f[AP]M C[SD]T", issued.find("time").text)
    assert issued.find("span").text == "1 minute ago"
    assert "in 6 hours" in text_of(times["Ends"])
    sent = datetime.datetime.fromisoformat(alert["sent_at"])
    assert datetime.datetime.fromisoformat(issued.find("time").get("datetime")) == sent
    spanish = page(client, f"/alerts/{alert['id']}", "es")
    assert "22 nov, 12:30 CST" in text_of(spanish.get_element_by_id("main"))
    assert "hace 1 minuto" in text_of(spanish.get_element_by_id("main"))


def test_the_alert_list_shows_when_each_alert_went_out_in_its_zone(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    send(client, officers)
    listing = text_of(page(client, "/alerts").get_element_by_id("main"))
    assert re.search(r"Issued \w{3} \d{1,2}, \d{1,2}:\d\d\u202f[AP]M C[SD]T", listing)


def ended_notice(document: Any) -> Any:
    """The first thing in the page's main part, which must be the notice of its end."""
    first = document.get_element_by_id("main").getchildren()[0]
    assert first.get("id") == "alert-ended"
    assert first.get("role") == "status"
    return first


def test_a_cancelled_alert_says_so_first_with_its_reason_in_every_language(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    found = send(client, officers)
    act(client, officers["drafter"], found["id"], "cancel", {"reason": "child_found"})
    two = send(client, officers, children=EVERYTHING["children"])
    act(client, officers["drafter"], two["id"], "cancel", {"reason": "child_found"})
    other = send(client, officers)
    note = {"reason": "other", "note": "Issued in error."}
    act(client, officers["drafter"], other["id"], "cancel", note)
    for language in LANGUAGES:
        cancelled = catalog_text(language, "This alert has been cancelled.")
        looking = catalog_text(language, "%(agency)s is looking for")
        notice = text_of(ended_notice(page(client, f"/alerts/{found['id']}", language)))
        assert cancelled in notice, language
        assert catalog_text(language, "The child has been found.") in notice, language
        both = text_of(ended_notice(page(client, f"/alerts/{two['id']}", language)))
        assert catalog_text(language, "The children have been found.") in both, language
        document = page(client, f"/alerts/{other['id']}", language)
        notice = text_of(ended_notice(document))
        assert catalog_text(language, "%(agency)s cancelled it for another") in notice, language
        assert "Issued in error." in notice
        assert catalog_text(language, "The child has been found.") not in notice
        # It no longer "is looking for" anyone: it "was looking for" them.
        was = catalog_text(language, "%(agency)s was looking for")
        assert was in text_of(document.xpath("//p[@class='lead']")[0]), language
        if looking not in was:  # German "sucht" is inside "gesucht", Arabic "تبحث" too
            assert looking not in text_of(document.get_element_by_id("main")), language


def test_an_expired_alert_says_it_has_ended_and_when_in_every_language(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    with app.app_context():
        session = get_session()
        row = session.get(Alert, alert["id"])
        assert row is not None
        row.expires = utcnow() - datetime.timedelta(minutes=3)
        session.commit()
        assert expire_alerts(session=session) == 1
    for language in LANGUAGES:
        document = page(client, f"/alerts/{alert['id']}", language)
        notice = text_of(ended_notice(document))
        assert catalog_text(language, "This alert has ended.") in notice, language
        assert catalog_text(language, "It reached its end time.") in notice, language
        facts = text_of(document.xpath("//dl[contains(@class, 'alert-facts')]")[0])
        assert catalog_text(language, "Ended") in facts, language
    english = text_of(page(client, f"/alerts/{alert['id']}").get_element_by_id("main"))
    assert "3 minutes ago" in english


def test_phone_numbers_plates_and_identifiers_are_isolated_left_to_right(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    for language in ("ar", "ur", "ckb", "en"):
        document = page(client, f"/alerts/{alert['id']}", language)
        assert document.get("dir") == ALL[language].direction
        phones = document.xpath("//a[starts-with(@href, 'tel:')]")
        assert len(phones) == 2  # in the call to action, and as the contact
        for phone in phones:
            isolate = phone.getparent()
            assert (isolate.tag, isolate.get("dir")) == ("bdi", "ltr")
            assert phone.text == "(800) 555-1234"
        plate = document.xpath("//bdi[@class='plate']")[0]
        assert (plate.get("dir"), plate.text) == ("ltr", "IL ABC1234")
        reference = document.xpath("//bdi[@class='reference']")[0]
        assert (reference.get("dir"), reference.text) == ("ltr", f"haven-alert-{alert['id']}-v1")


def test_the_map_draws_the_area_over_the_counties_around_it_with_their_names(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)  # Cook County
    svg = page(client, f"/alerts/{alert['id']}").xpath("//figure[@class='alert-area']/*")[0]
    assert svg.tag == "svg"
    names = svg.xpath(".//*[local-name()='text']/text()")
    assert {"Cook", "DuPage", "Will", "Lake"} <= set(names)
    groups = [g.get("class") for g in svg.xpath("./*[local-name()='g']")]
    assert groups == ["area-map-places", None, "area-map-names"]
    assert not svg.xpath(".//*[local-name()='image' or local-name()='use' or @href]")


def test_the_haven_link_on_alert_pages_leads_to_the_active_alerts(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    for path in (f"/alerts/{alert['id']}", "/alerts", "/alerts/archive", "/alerts/subscribe"):
        assert page(client, path).xpath("//a[@class='brand']/@href") == ["/alerts"], path


def test_a_test_alerts_link_leads_to_a_page_in_the_readers_language_that_says_so(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    test_alert = send(client, officers, status="Test")
    for language in ("es", "ar", "zh", "vi"):
        client.set_cookie("lang", language)
        response = client.get(f"/a/{test_alert['id']}", follow_redirects=True)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        document = lxml.html.fromstring(response.get_data(as_text=True))
        assert document.get("lang") == language
        assert document.xpath("//meta[@name='viewport']")
        main = text_of(document.get_element_by_id("main"))
        assert catalog_text(language, "This alert is not available") in main
        assert catalog_text(language, "Test messages and exercises have no") in main
        assert document.xpath("//a[@href='/alerts']")
    assert client.get(f"/alerts/{test_alert['id']}.cap").status_code == 404


def test_past_alerts_are_listed_by_the_month_they_went_out_newest_first(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    october = send(client, officers, children=[{"name": "October Child", "age": 5}])
    act(client, officers["drafter"], october["id"], "cancel", {"reason": "child_found"})
    november = send(client, officers, children=[{"name": "November Child", "age": 6}])
    act(client, officers["drafter"], november["id"], "cancel", {"reason": "other"})
    expired = send(client, officers, children=[{"name": "Expired Child", "age": 8}])
    send(client, officers, children=[{"name": "Active Child", "age": 9}])
    send(client, officers, status="Test", children=[{"name": "Test Child", "age": 3}])
    with app.app_context():
        session = get_session()
        moved = {
            october["id"]: datetime.datetime(2026, 10, 3, 15, tzinfo=datetime.UTC),
            november["id"]: datetime.datetime(2026, 11, 2, 15, tzinfo=datetime.UTC),
            # 03:00 UTC on 1 December is still 30 November in Chicago: its month is November.
            expired["id"]: datetime.datetime(2026, 12, 1, 3, tzinfo=datetime.UTC),
        }
        for alert_id, sent_at in moved.items():
            row = session.get(Alert, alert_id)
            assert row is not None
            row.sent_at = sent_at
            if alert_id == expired["id"]:
                row.expires = utcnow() - datetime.timedelta(minutes=1)
        session.commit()
        assert expire_alerts(session=session) == 1
    document = page(client, "/alerts/archive")
    months = [
        (text_of(section.find("h2")), [text_of(a) for a in section.xpath(".//li/a")])
        for section in document.xpath("//section[@class='archive-month']")
    ]
    assert months == [
        ("November 2026", ["Expired Child, age 8", "November Child, age 6"]),
        ("October 2026", ["October Child, age 5"]),
    ]
    states = [text_of(s) for s in document.xpath("//small[@class='archive-state']")]
    assert states == ["Ended", "Cancelled", "The child has been found."]
    spanish = page(client, "/alerts/archive", "es")
    assert [text_of(h) for h in spanish.xpath("//h2")] == ["noviembre de 2026", "octubre de 2026"]
    assert text_of(spanish.xpath("//h1")[0]) == "Alertas AMBER anteriores"


def test_with_no_past_alerts_the_archive_says_so(client: FlaskClient) -> None:
    main = text_of(page(client, "/alerts/archive", "es").get_element_by_id("main"))
    assert "No hay Alertas AMBER anteriores." in main
