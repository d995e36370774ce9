"""The subscription and unsubscribe forms in a real browser: right to left in Arabic, usable by
keyboard alone, no request anywhere but Haven, nothing refused by the page's
Content-Security-Policy."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from alerts.models import Subscriber
from alerts.subscriptions import service
from haven.db import get_session
from tests.browser import REPO
from tests.factories import catalog_text
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [
    pytest.mark.browser,
    # The pages use the same services as the form tests, which run on both databases.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONE_SCREEN = {"width": 360, "height": 740}
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {
        **fake_twilio.settings(),
    }


@pytest.fixture
def context(chromium: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A phone-sized browser context in Arabic; fails on page errors and stray requests."""
    context = chromium.new_context(viewport=PHONE_SCREEN, base_url=live_server)
    context.add_cookies([{"name": "lang", "value": "ar", "url": live_server}])
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert errors == []
    assert all(url.startswith(f"{live_server}/") for url in requests), requests


def axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA problems on the page as it is now."""
    if not AXE.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{AXE} is missing: run `make vendor`", pytrace=False)
        return []
    page.evaluate(AXE.read_text())  # via DevTools: the page's CSP does not apply to it
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {
              runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
              resultTypes: ["violations"],
            })).violations"""
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page: Page) -> None:
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"the page is {width} px wide"
    assert axe_violations(page) == []
    assert page.evaluate("window.__cspViolations") == []


def tab_to(page: Page, element_id: str, limit: int = 30) -> None:
    """Press Tab until the element has the focus (fails if the keyboard cannot reach it)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement?.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_the_arabic_form_is_right_to_left_and_works_by_keyboard_alone(
    context: BrowserContext, app: Flask, fake_twilio: FakeTwilio
) -> None:
    page = context.new_page()
    page.goto("/alerts/subscribe")
    check_page(page)
    assert page.locator("#language").input_value() == "ar"
    # The phone number and ZIP codes stay left to right inside the right-to-left page.
    assert page.locator("#phone").evaluate("e => getComputedStyle(e).direction") == "ltr"

    tab_to(page, "phone")
    page.keyboard.type("(312) 555-0101")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "zips"
    page.keyboard.type("60601 60614")
    page.keyboard.press("Enter")  # sends the form, never "Add another point"

    expect(page.locator("#code")).to_be_focused()
    check_page(page)
    code = re.match(r"\d{6}", fake_twilio.messages[-1].body)
    assert code
    page.keyboard.type(code[0])
    page.keyboard.press("Enter")

    expect(page.locator("#done-title")).to_be_visible()
    check_page(page)
    with app.app_context():
        subscriber = get_session().scalar(select(Subscriber))
        assert subscriber is not None
        assert (subscriber.phone, subscriber.status, subscriber.language) == (
            "+13125550101",
            "active",
            "ar",
        )
    assert context.cookies() == [c for c in context.cookies() if c["name"] == "lang"], (
        "no cookie but the language"
    )


def test_points_are_added_by_keyboard_and_errors_take_the_focus(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/alerts/subscribe")
    tab_to(page, "phone")
    page.keyboard.type("(312) 555-0101")
    # Open "Or choose a place by its coordinates" and add a second point, all by keyboard.
    page.locator("details.points summary").focus()
    page.keyboard.press("Enter")
    tab_to(page, "add-point")
    page.keyboard.press("Enter")
    expect(page.locator("#lat-1")).to_be_focused()
    expect(page.locator("#locate-status")).not_to_be_empty()
    page.keyboard.type("95")
    page.keyboard.press("Tab")
    page.keyboard.type("-87.6")
    page.keyboard.press("Enter")
    # The server refuses latitude 95: the error is announced and its field takes the focus.
    expect(page.locator("#form-error")).to_be_visible()
    assert page.locator("#form-error").get_attribute("role") == "alert"
    expect(page.locator("#lat-1")).to_be_focused()
    assert page.locator("#lat-1").input_value() == "95"
    assert page.locator("#lat-1").get_attribute("aria-invalid") == "true"
    check_page(page)


def test_use_my_current_location_fills_in_a_point_and_says_which(
    context: BrowserContext, live_server: str
) -> None:
    page = context.new_page()
    response = page.goto("/alerts/subscribe")
    assert response is not None
    assert "geolocation=(self)" in response.headers["permissions-policy"]
    context.grant_permissions(["geolocation"], origin=live_server)
    context.set_geolocation({"latitude": 41.878113, "longitude": -87.629799})
    page.locator("details.points summary").click()
    hint = page.locator("#locate-hint")
    expect(hint).to_be_visible()
    assert catalog_text("ar", "Your browser asks you first. Your location fills in the") in (
        hint.inner_text()
    )
    located = page.evaluate("JSON.parse(document.getElementById('i18n-strings').textContent)")[
        "located"
    ]
    page.locator("#locate").click()
    expect(page.locator("#lat-0")).to_have_value("41.878")
    expect(page.locator("#lon-0")).to_have_value("-87.630")
    # The status names the point it filled in, as that point's legend does.
    status = page.locator("#locate-status")
    expect(status).to_have_text(located.replace("%(num)s", "1"))
    assert "1" in page.locator("fieldset.point legend").first.inner_text()
    # With the first point taken, the location goes into a new point, and says so.
    page.locator("#locate").click()
    expect(page.locator("#lat-1")).to_have_value("41.878")
    expect(status).to_have_text(located.replace("%(num)s", "2"))
    assert "2" in page.locator("fieldset.point legend").nth(1).inner_text()


def test_the_number_to_text_join_reads_left_to_right_and_opens_messages(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    page.goto("/alerts/subscribe")
    number = page.locator("#join-by-text bdi")
    expect(number).to_have_text("(500) 555-0006")
    assert number.evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert number.locator("a").get_attribute("href") == "sms:+15005550006"
    # Inside a right-to-left sentence: the paragraph itself stays right to left.
    assert page.locator("#join-by-text").evaluate("e => getComputedStyle(e).direction") == "rtl"


def wait_for_code(fake: FakeTwilio, phone: str) -> str:
    """The code texted to `phone`, once it has come (it is sent after the page)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in fake.messages:
            match = re.match(r"(\d{6})\b", message.body)
            if message.to == phone and match:
                return match[1]
        time.sleep(0.05)
    raise AssertionError(f"no code was texted to {phone}")


def test_unsubscribing_in_arabic_works_by_keyboard_alone(
    context: BrowserContext, app: Flask, fake_twilio: FakeTwilio
) -> None:
    with app.app_context():
        service.join(session=get_session(), phone="+13125550101", zips=["60601", "60614"])
    page = context.new_page()
    page.goto("/alerts/subscribe")
    page.locator("#unsubscribe-link").click()
    expect(page.locator("#unsubscribe")).to_be_visible()
    check_page(page)
    tab_to(page, "phone")
    page.keyboard.type("(312) 555-0101")
    page.keyboard.press("Enter")

    expect(page.locator("#code")).to_be_focused()
    check_page(page)
    page.keyboard.type(wait_for_code(fake_twilio, "+13125550101"))
    page.keyboard.press("Enter")

    expect(page.locator("#done-title")).to_be_visible()
    check_page(page)
    with app.app_context():
        subscriber = get_session().scalar(select(Subscriber))
        assert subscriber is not None
        assert subscriber.status == "opted_out"
    assert context.cookies() == [c for c in context.cookies() if c["name"] == "lang"], (
        "no cookie but the language"
    )
