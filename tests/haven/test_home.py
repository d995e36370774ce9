"""The front page, which offers both services, and the page for an address where there is
none: in the reader's language, at phone width (test_alert_pages_browser.py), while the API
keeps answering in JSON."""

from __future__ import annotations

import lxml.html
import pytest
from flask.testing import FlaskClient

from haven.i18n import LANGUAGES
from tests.factories import catalog_text


def test_the_front_page_offers_amber_alerts_and_take_it_down(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    document = lxml.html.fromstring(response.get_data(as_text=True))
    links = set(document.xpath("//main//a/@href"))
    assert {"/alerts", "/alerts/subscribe", "/alerts/archive", "/takedown/"} <= links
    assert document.xpath("//a[@class='brand']/@href") == ["/"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_front_page_is_in_the_readers_language(client: FlaskClient, language: str) -> None:
    client.set_cookie("lang", language)
    document = lxml.html.fromstring(client.get("/").get_data(as_text=True))
    assert document.get("lang") == language
    main = document.get_element_by_id("main").text_content()
    for message in (
        "AMBER Alerts",
        "When a child is missing near you",
        "Stop nude images of you spreading",
    ):
        assert catalog_text(language, message) in main, (language, message)


@pytest.mark.parametrize("language", ["en", "es", "ar", "zh", "vi"])
def test_an_address_with_no_page_is_a_404_page_in_the_readers_language(
    client: FlaskClient, language: str
) -> None:
    client.set_cookie("lang", language)
    for path in ("/no/such/page", "/alerts/no-such-alert", "/takedown/nothing-here"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        document = lxml.html.fromstring(response.get_data(as_text=True))
        assert document.get("lang") == language
        assert document.xpath("//meta[@name='viewport']")
        main = document.get_element_by_id("main").text_content()
        assert catalog_text(language, "Page not found") in main
        assert catalog_text(language, "There is nothing at this address.") in main
        assert document.xpath("//main//a/@href") == ["/"]


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/webhooks/no-such-hook"])
def test_the_api_still_answers_a_404_in_json(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"]["code"] == "not_found"  # type: ignore[index]


def test_a_client_asking_for_json_gets_its_404_in_json(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json
