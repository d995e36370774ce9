"""Alert pages on a phone, in Debian's Chromium: nothing wider than a 360 px screen in any
script, times with their zone, the end of an alert said first, phone numbers whose digits are
drawn in order inside right-to-left text, and the pages for what is not there.

With HAVEN_SCREENSHOTS=1, the first test also writes docs/screenshots/alert-{en,es,ar}.png:

    HAVEN_SCREENSHOTS=1 .venv/bin/pytest tests/alerts/test_alert_pages_browser.py -k fits
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page

from haven.i18n import ALL
from tests.alerts.test_alert_pages_public import EVERYTHING
from tests.alerts.test_alerts_api import act, send
from tests.alerts.test_subscriptions_browser import RECORD_CSP_VIOLATIONS, axe_violations
from tests.browser import REPO

pytestmark = [
    pytest.mark.browser,
    # The pages' content is checked on both databases by test_alert_pages_public.py.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONE_SCREEN = {"width": 360, "height": 740}
# Latin, right to left, Han, Latin with diacritics, Persian, Cyrillic, Japanese, Ethiopic
SCRIPTS = ["en", "es", "ar", "zh", "vi", "fa", "ru", "ja", "am"]
SCREENSHOTS = REPO / "docs" / "screenshots"

# The characters of an element's text as drawn, left to right: each character's box, sorted
# by its left edge. A number isolated left to right reads the same as it is written.
DRAWN_LEFT_TO_RIGHT = """(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const boxes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      if (!node.data[i].trim()) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      boxes.push([range.getBoundingClientRect().left, node.data[i]]);
    }
  }
  return boxes.sort((a, b) => a[0] - b[0]).map((box) => box[1]).join("");
}"""


@pytest.fixture
def officers_and_client(app: Flask, officers: dict[str, str]) -> tuple[dict[str, str], FlaskClient]:
    return officers, app.test_client()


@pytest.fixture
def phone(chromium: Browser, live_server: str) -> Iterator[Callable[[str], Page]]:
    """Opens a phone-sized page in a language; fails on page errors and stray requests."""
    contexts = []
    requests: list[str] = []
    errors: list[str] = []

    def open_page(language: str) -> Page:
        context = chromium.new_context(viewport=PHONE_SCREEN, base_url=live_server)
        context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.on("request", lambda request: requests.append(request.url))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []
    assert all(url.startswith(f"{live_server}/") for url in requests), requests


def check_fits(page: Page, language: str) -> None:
    """The page is in `language`, no wider than the phone, accessible, within its CSP."""
    assert page.evaluate("document.documentElement.lang") == language
    direction = ALL[language].direction
    assert page.evaluate("document.documentElement.dir") == direction
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"the {language} page is {width} px wide"
    assert axe_violations(page) == []
    assert page.evaluate("window.__cspViolations") == []


@pytest.mark.parametrize("language", SCRIPTS)
def test_an_alert_page_fits_a_phone_and_shows_its_times_with_their_zone(
    phone: Callable[[str], Page],
    officers_and_client: tuple[dict[str, str], FlaskClient],
    language: str,
) -> None:
    officers, client = officers_and_client
    alert = send(client, officers, **EVERYTHING)
    page = phone(language)
    response = page.goto(f"/alerts/{alert['id']}")
    assert response is not None
    assert response.status == 200
    check_fits(page, language)
    map_box = page.locator("svg.area-map").bounding_box()
    assert map_box is not None
    # The map scales to the page: the width of the main column, not a fixed 320 px.
    assert 300 <= map_box["width"] <= PHONE_SCREEN["width"] - 24
    assert page.locator("svg.area-map text").count() >= 3  # county names
    times = page.locator("time").all_inner_texts()
    assert len(times) == 3  # issued, ends, last seen
    assert all("CST" in time for time in times), times
    if os.environ.get("HAVEN_SCREENSHOTS") == "1" and language in ("en", "es", "ar"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"alert-{language}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")


@pytest.mark.parametrize("language", ["ar", "ur", "ckb", "fa"])
def test_a_phone_number_in_right_to_left_text_is_drawn_with_its_digits_in_order(
    phone: Callable[[str], Page],
    officers_and_client: tuple[dict[str, str], FlaskClient],
    language: str,
) -> None:
    officers, client = officers_and_client
    alert = send(client, officers)
    page = phone(language)
    page.goto(f"/alerts/{alert['id']}")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    numbers = page.locator("bdi.phone")
    assert numbers.count() == 2
    for index in range(numbers.count()):
        number = numbers.nth(index)
        style: dict[str, Any] = number.evaluate(
            "e => ({direction: getComputedStyle(e).direction,"
            " bidi: getComputedStyle(e).unicodeBidi})"
        )
        assert style == {"direction": "ltr", "bidi": "isolate"}
        assert number.evaluate(DRAWN_LEFT_TO_RIGHT) == "(800)555-1234"
    plate = page.locator("bdi.plate")
    assert plate.evaluate(DRAWN_LEFT_TO_RIGHT) == "ILABC1234"
    reference = page.locator("bdi.reference")
    assert reference.evaluate(DRAWN_LEFT_TO_RIGHT) == f"haven-alert-{alert['id']}-v1"


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_cancelled_alert_says_so_at_the_top_and_still_fits(
    phone: Callable[[str], Page],
    officers_and_client: tuple[dict[str, str], FlaskClient],
    language: str,
) -> None:
    officers, client = officers_and_client
    alert = send(client, officers)
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    page = phone(language)
    page.goto(f"/alerts/{alert['id']}")
    check_fits(page, language)
    notice = page.locator("#alert-ended")
    assert notice.is_visible()
    notice_box, heading_box = notice.bounding_box(), page.locator("h1").bounding_box()
    assert notice_box is not None
    assert heading_box is not None
    assert notice_box["y"] + notice_box["height"] <= heading_box["y"]  # above the title
    assert notice_box["y"] < PHONE_SCREEN["height"] / 2  # seen without scrolling
    assert page.locator(".call-to-action").count() == 0


@pytest.mark.parametrize("language", SCRIPTS)
def test_what_is_not_there_is_a_404_page_in_the_readers_language_that_fits(
    phone: Callable[[str], Page],
    officers_and_client: tuple[dict[str, str], FlaskClient],
    language: str,
) -> None:
    officers, client = officers_and_client
    test_alert = send(client, officers, status="Test")
    page = phone(language)
    for path in (f"/a/{test_alert['id']}", "/alerts/999999", "/no/such/page"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        check_fits(page, language)
        assert page.locator("h1").count() == 1


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_front_page_the_alert_list_and_the_archive_fit_a_phone(
    phone: Callable[[str], Page],
    officers_and_client: tuple[dict[str, str], FlaskClient],
    language: str,
) -> None:
    officers, client = officers_and_client
    send(client, officers)
    ended = send(client, officers)
    act(client, officers["drafter"], ended["id"], "cancel", {"reason": "other"})
    page = phone(language)
    for path in ("/", "/alerts", "/alerts/archive"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, path
        check_fits(page, language)
