"""The help in a real browser on a 360×740 phone: one tap from the top of every step of the
flow and of every takedown page, in every language, without horizontal overflow; choosing a
country shows its resources and sends nothing.

Headless Debian Chromium (tests/browser.py) drives the app served over loopback, on SQLite.
The server side of the help (data file, texts, `?country=`) is tested in test_help.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, ViewportSize, expect

from haven.languages import LANGUAGES
from tests.browser import REPO
from tests.takedown.test_help import CHILDLINE, takedown_pages
from tests.takedown.test_page_flow_browser import Session, open_session

__all__ = ["open_session"]  # the fixture, used by name

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONE: ViewportSize = {"width": 360, "height": 740}
IMAGE = REPO / "tests" / "data" / "pdq" / "bridge-mods__aaa-orig.jpg"
HASHING_TIMEOUT_MS = 60_000
CYBERTIPLINE_CALL = '#help a[href="tel:+18008435678"]'
# An operator's file: the bundled United States, and a second country.
OPERATOR_FILE = f"""
default_country = "US"

[[countries.US]]
name = "CyberTipline"
text = "Report it."
url = "https://report.cybertip.org"
phone = "+18008435678"

{CHILDLINE}"""


class Phone:
    """A phone-sized, touch session on the app in one language (open_session checks at the
    end that no page threw an error, logged one or had the CSP refuse anything)."""

    def __init__(self, session: Session, lang: str) -> None:
        self.lang = lang
        self.context = session.context
        self.requests = session.requests
        self.page = session.page
        self._session = session
        self.context.add_cookies([{"name": "lang", "value": lang, "url": session.base}])

    def goto(self, path: str) -> Page:
        page = self._session.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        return page


@pytest.fixture
def open_phone(open_session: Callable[..., Session]) -> Callable[[str], Phone]:
    """Opens phones on the app."""
    return lambda lang: Phone(open_session(has_touch=True, is_mobile=True), lang)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """The bundled help, or (parametrized with "operator") OPERATOR_FILE."""
    if getattr(request, "param", None) != "operator":
        return {}
    path = tmp_path / "help.toml"
    path.write_text(OPERATOR_FILE)
    return {"help_file": path}


def assert_no_overflow(page: Page, where: str) -> None:
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"{where}: the page is {scroll} px wide on a {client} px screen"


def tap_help_from_the_top(page: Page, where: str) -> None:
    """Scroll to the top; the help's summary is on the first screen; one tap opens it."""
    page.evaluate("window.scrollTo(0, 0)")
    summary = page.locator("#help > summary")
    box = summary.bounding_box()
    assert box is not None, f"{where}: no help"
    assert box["y"] >= 0, where
    assert box["y"] + box["height"] <= PHONE["height"], f"{where}: help is below the first screen"
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_hidden()
    summary.tap()
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_visible()
    expect(page.locator('#help a[href="sms:988"]')).to_be_visible()
    expect(page.locator('#help a[href="https://stopncii.org"]')).to_be_visible()
    assert_no_overflow(page, f"{where}, help open")


def close_help(page: Page) -> None:
    page.locator("#help > summary").click()
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_hidden()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_is_one_tap_from_the_top_of_every_step_and_page_without_overflow(
    open_phone: Callable[[str], Phone], app: Flask, lang: str
) -> None:
    phone = open_phone(lang)
    page = phone.goto("/takedown/")
    assert_no_overflow(page, f"{lang} choose")
    tap_help_from_the_top(page, f"{lang} choose")
    close_help(page)

    page.set_input_files("#files", [str(IMAGE)])
    expect(page.locator("#send")).to_be_enabled(timeout=HASHING_TIMEOUT_MS)
    assert_no_overflow(page, f"{lang} review")
    tap_help_from_the_top(page, f"{lang} review")
    close_help(page)

    page.click("#send")
    expect(page.locator("#step-result")).to_be_visible()
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""
    assert_no_overflow(page, f"{lang} done")
    tap_help_from_the_top(page, f"{lang} done")
    # The help opened in place: the codes, shown only once, are still there.
    expect(page.locator("#case-pin")).to_have_text(pin)

    page = phone.goto("/takedown/status")
    page.fill("#case-number", number)
    page.fill("#pin", pin)
    page.click("#lookup button[type=submit]")
    expect(page.locator("#case")).to_be_visible()
    assert_no_overflow(page, f"{lang} status")
    tap_help_from_the_top(page, f"{lang} status")

    for path in takedown_pages(app):
        page = phone.goto(path)
        assert_no_overflow(page, f"{lang} {path}")
        tap_help_from_the_top(page, f"{lang} {path}")


@pytest.mark.parametrize("settings_overrides", ["operator"], indirect=True)
def test_choosing_a_country_shows_its_help_and_sends_nothing(
    open_phone: Callable[[str], Phone], live_server: str
) -> None:
    phone = open_phone("en")
    page = phone.goto("/takedown/")
    page.locator("#help > summary").tap()
    us, gb = (page.locator(f'#help details[data-country="{code}"]') for code in ("US", "GB"))
    childline = page.locator('#help a[href="tel:08001111"]')
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_visible()
    expect(childline).to_be_hidden()
    before = len(phone.requests)

    gb.locator("summary").tap()
    expect(childline).to_be_visible()
    expect(childline).to_have_text("Call 0800 1111")
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_hidden()  # one country open at a time
    expect(us).not_to_have_attribute("open", "")
    assert_no_overflow(page, "GB open")
    # The country stays on the device: choosing one makes no request at all.
    assert phone.requests[before:] == []
    assert [cookie["name"] for cookie in phone.context.cookies()] == ["lang"]  # ours, only

    # A link can choose it too (`?country=`): the help opens with that country.
    page = phone.goto("/takedown/status?country=GB")
    expect(childline).to_be_visible()
    expect(page.locator(CYBERTIPLINE_CALL)).to_be_hidden()
    assert all(r.url.startswith(f"{live_server}/") for r in phone.requests)
