"""The drafting form in Debian's Chromium, at a desk (1280x800) and on a tablet (768x1024):
an alert drafted with a county chosen by typeahead, a circle around a ZIP code in miles and
a polygon drawn on the map; the live audience following each change; the SMS preview per
language; submitting for approval; and the same with the keyboard alone. axe-core finds no
serious or critical problem, and no request leaves the server's origin."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.alerts.test_subscriptions_browser import RECORD_CSP_VIOLATIONS, axe_violations
from tests.console.support import open_session
from tests.factories import bearer, create_subscribers, draft_body

pytestmark = [pytest.mark.browser]

# The first count or lookup of a test loads the server's indexes; the machine is shared.
WAIT_MS = 20_000
SCREENS = {"desk": {"width": 1280, "height": 800}, "tablet": {"width": 768, "height": 1024}}
# Downtown Chicago (Cook County) speaks English and Spanish; Springfield (Sangamon County)
# is inside the jurisdiction (Illinois) but outside Cook County.
CHICAGO = [(f"+1312555{n:04d}", 41.8781 + n * 0.001, -87.6298) for n in range(3)]
CHICAGO_ES = [(f"+1312556{n:04d}", 41.8790, -87.6310 + n * 0.001) for n in range(2)]
SPRINGFIELD = [(f"+1217555{n:04d}", 39.7817, -89.6501 + n * 0.001) for n in range(4)]


@pytest.fixture
def subscribers(app: Flask) -> None:
    create_subscribers(app, CHICAGO)
    create_subscribers(app, CHICAGO_ES, language="es")
    create_subscribers(app, SPRINGFIELD)


@pytest.fixture
def console(
    chromium: Browser, live_server: str, app: Flask, officers: dict[str, str], subscribers: None
) -> Iterator[Callable[[str], Page]]:
    """Opens the drafting form signed in as the drafter, on a screen; fails on page errors,
    CSP violations and requests to any other origin."""
    contexts: list[BrowserContext] = []
    requests: list[str] = []
    errors: list[str] = []

    def open_page(screen: str, path: str = "/console/alerts/new") -> Page:
        token, _csrf = open_session(app, officers["drafter"])
        context = chromium.new_context(viewport=SCREENS[screen], base_url=live_server)
        context.add_cookies([{"name": "haven_console", "value": token, "url": live_server}])
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.on("request", lambda request: requests.append(request.url))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        page = context.new_page()
        page.goto(path)
        if path != "/console/":
            expect(page.locator("#draft-form")).to_have_attribute("data-ready", "true")
        return page

    yield open_page
    for context in contexts:
        pages = context.pages
        if pages:
            assert pages[0].evaluate("window.__cspViolations") == []
        context.close()
    assert errors == []
    assert all(url.startswith(f"{live_server}/") for url in requests), requests


def stored(app: Flask, officers: dict[str, str], alert_id: int) -> dict[str, Any]:
    answer = app.test_client().get(
        f"/api/v1/alerts/{alert_id}", headers=bearer(officers["drafter"])
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    return body


def submitted_id(page: Page) -> int:
    page.wait_for_url(re.compile(r".*/console/alerts/\d+$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


@pytest.mark.parametrize("screen", SCREENS)
def test_an_officer_drafts_with_a_county_sees_its_audience_and_preview_and_submits(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str], screen: str
) -> None:
    # From the console's home to submitted: every click and every field typed is an action.
    page = console(screen, "/console/")
    page.get_by_role("link", name="New alert").click()
    expect(page.locator("#draft-form")).to_have_attribute("data-ready", "true")
    page.locator("#f-children-0-name").fill("Jane Doe")
    page.locator("#place-input").fill("Cook")
    page.get_by_role("option", name="Cook County, IL").click()
    expect(page.locator("#audience")).to_have_text("5 subscribers in all", timeout=WAIT_MS)
    expect(page.locator(".area-item .area-count")).to_have_text("5 subscribers")
    expect(page.locator("#audience-request")).to_contain_text("Showing the count for change")
    page.locator("#f-contact_phone").fill("312 555 0100")
    expect(page.locator(".preview-message")).to_have_count(2, timeout=WAIT_MS)
    english = page.locator('.preview-message[data-language="en"]')
    spanish = page.locator('.preview-message[data-language="es"]')
    expect(english.locator(".preview-sms")).to_contain_text("Jane Doe")
    expect(english.locator(".subscribers")).to_have_text("3")
    expect(spanish.locator(".subscribers")).to_have_text("2")
    expect(english.locator(".encoding")).to_have_text("GSM-7")
    sms = english.locator(".preview-sms").inner_text()
    expect(english.locator(".characters")).to_have_text(str(len(sms)))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SCREENS[screen]["width"], f"the page is {width} px wide"
    assert axe_violations(page) == []
    # Six actions (the goal is 12 at most): New alert, the name, "Cook", its option, the
    # phone, and Submit.
    page.get_by_role("button", name="Submit for approval").click()
    alert = stored(app, officers, submitted_id(page))
    assert alert["state"] == "pending"
    given = [{k: v for k, v in area.items() if v is not None} for area in alert["content"]["areas"]]
    assert given == [{"same": "017031", "description": "Cook County, IL"}]
    assert alert["content"]["children"][0]["name"] == "Jane Doe"
    assert alert["content"]["contact_phone"] == "+13125550100"


def test_a_problem_shows_next_to_its_field_with_the_apis_message(
    console: Callable[[str], Page],
) -> None:
    page = console("desk")
    page.locator("#f-contact_phone").fill("12")
    error = page.locator("#f-contact_phone-error")
    expect(error).to_be_visible()
    expect(page.locator("#f-contact_phone")).to_have_attribute(
        "aria-describedby", "f-contact_phone-error"
    )
    expect(page.locator("#f-contact_phone")).to_have_attribute("aria-invalid", "true")
    # The child's name, untouched, shows nothing until the officer submits.
    expect(page.locator("#f-children-0-name-error")).to_be_hidden()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#f-children-0-name-error")).to_be_visible()
    expect(page.locator("#error-list a[href='#f-contact_phone']")).to_have_count(1)
    assert page.url.endswith("/console/alerts/new")


def test_a_circle_around_a_zip_code_in_miles_changes_the_audience(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str]
) -> None:
    page = console("desk")
    page.locator("#f-children-0-name").fill("Jane Doe")
    page.locator("#f-contact_phone").fill("312 555 0100")
    page.locator("#circle-panel summary").click()
    page.locator("#circle-zip").fill("60601")
    page.locator("#circle-radius").fill("3")
    page.locator("#circle-unit").select_option("mi")
    page.locator("#circle-add").click()
    # The first lookup loads the ZIP code table on the server, which takes a few seconds.
    expect(page.locator(".area-label")).to_contain_text(
        "3 miles around ZIP 60601 (Chicago, IL)", timeout=WAIT_MS
    )
    expect(page.locator("#audience")).to_have_text("5 subscribers in all", timeout=WAIT_MS)
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#form-status")).to_contain_text("Saved as draft")
    alert_id = int(page.url.split("/")[-2])
    circle = stored(app, officers, alert_id)["content"]["areas"][0]["circle"]
    assert circle.endswith(" 4.828032"), circle  # 3 miles, exactly, in km


def test_a_polygon_drawn_on_the_map_is_counted_and_submitted(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str]
) -> None:
    page = console("desk")
    page.locator("#f-children-0-name").fill("Jane Doe")
    page.locator("#f-contact_phone").fill("312 555 0100")
    # Centre the map on Springfield, close enough to draw around it.
    page.locator("#circle-panel summary").click()
    page.locator("#circle-point").fill("39.7817, -89.6501")
    page.locator("#circle-radius").fill("2")
    page.locator("#circle-add").click()
    expect(page.locator("#audience")).to_have_text("4 subscribers in all", timeout=WAIT_MS)
    page.locator(".area-item button").click()  # remove the circle: the map stays there
    expect(page.locator("#audience")).to_have_text(
        "Add an area to count its audience.", timeout=WAIT_MS
    )
    page.locator("#polygon-panel summary").click()
    page.locator("#polygon-draw").click()
    box = page.locator("#map").bounding_box()
    assert box is not None
    middle_x, middle_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-90, -80), (90, -80), (90, 80), (-90, 80), (-90, -80)]
    for dx, dy in corners:
        page.mouse.click(middle_x + dx, middle_y + dy)
    expect(page.locator(".area-label")).to_contain_text("Polygon of 4 points")
    expect(page.locator("#audience")).to_have_text("4 subscribers in all", timeout=WAIT_MS)
    page.get_by_role("button", name="Submit for approval").click()
    alert = stored(app, officers, submitted_id(page))
    assert alert["state"] == "pending"
    assert "polygon" in alert["content"]["areas"][0]


def test_a_pasted_cap_polygon_a_geojson_file_and_a_point_picked_on_the_map_are_areas(
    console: Callable[[str], Page], tmp_path: Path
) -> None:
    page = console("desk")
    page.locator("#polygon-panel summary").click()
    page.locator("#polygon-text").fill(
        "39.77,-89.67 39.77,-89.63 39.80,-89.63 39.80,-89.67 39.77,-89.67"
    )
    page.locator("#polygon-add").click()
    expect(page.locator("#audience")).to_have_text("4 subscribers in all", timeout=WAIT_MS)
    around_chicago = {
        "type": "Polygon",
        "coordinates": [
            [[-87.64, 41.87], [-87.62, 41.87], [-87.62, 41.89], [-87.64, 41.89], [-87.64, 41.87]]
        ],
    }
    upload = tmp_path / "downtown.geojson"
    upload.write_text(json.dumps(around_chicago))
    page.locator("#geojson-panel summary").click()
    page.locator("#geojson-file").set_input_files(upload)
    expect(page.locator(".area-label").nth(1)).to_have_text("downtown.geojson")
    expect(page.locator("#audience")).to_have_text("9 subscribers in all", timeout=WAIT_MS)
    expect(page.locator(".area-count")).to_have_text(["4 subscribers", "5 subscribers"])
    page.locator("#circle-panel summary").click()
    page.locator("#circle-pick").click()
    expect(page.locator("#map-mode")).to_contain_text("Click the map")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point = page.locator("#circle-point").input_value()
    assert re.fullmatch(r"-?\d+\.\d{5}, -?\d+\.\d{5}", point), point
    page.locator("#circle-add").click()
    expect(page.locator(".area-item")).to_have_count(3)


def test_an_area_reaching_into_indiana_is_drawn_named_and_clipped_in_one_click(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str]
) -> None:
    # Hegewisch, Chicago (Illinois), and Hammond, Indiana, across the state line.
    create_subscribers(app, [(f"+1773555{n:04d}", 41.65, -87.58 + n * 0.001) for n in range(2)])
    create_subscribers(app, [(f"+1219555{n:04d}", 41.64, -87.47 + n * 0.001) for n in range(3)])
    page = console("desk")
    page.locator("#circle-panel summary").click()
    page.locator("#circle-point").fill("41.65, -87.52")
    page.locator("#circle-radius").fill("8")
    page.locator("#circle-add").click()
    warning = page.locator("#jurisdiction")
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(warning).to_contain_text("Lake County, IN")
    expect(page.locator("#audience")).to_have_text("5 subscribers in all", timeout=WAIT_MS)
    outside = page.locator('#map path[stroke="#a3261b"]')
    expect(outside).to_have_count(1)
    page.get_by_role("button", name="Clip to our jurisdiction").click()
    expect(warning).to_be_hidden()
    expect(outside).to_have_count(0)
    expect(page.locator(".area-label")).to_contain_text("(clipped to our jurisdiction)")
    expect(page.locator("#audience")).to_have_text("2 subscribers in all", timeout=WAIT_MS)
    page.locator("#f-children-0-name").fill("Jane Doe")
    page.locator("#f-contact_phone").fill("312 555 0100")
    page.get_by_role("button", name="Submit for approval").click()
    alert = stored(app, officers, submitted_id(page))
    assert alert["state"] == "pending"
    assert alert["content"]["areas"][0]["geojson"]["type"] in ("Polygon", "MultiPolygon")


def test_a_returned_draft_opens_filled_in_under_the_approvers_note_and_is_resubmitted(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str]
) -> None:
    client = app.test_client()
    alert = client.post(
        "/api/v1/alerts", json=draft_body(), headers=bearer(officers["drafter"])
    ).json
    assert alert is not None
    client.post(f"/api/v1/alerts/{alert['id']}/submit", headers=bearer(officers["drafter"]))
    back = client.post(
        f"/api/v1/alerts/{alert['id']}/return",
        json={"revision": alert["revision"], "reason": "The plate is ABC1235."},
        headers=bearer(officers["approver"]),
    )
    assert back.status_code == 200, back.json
    page = console("tablet", f"/console/alerts/{alert['id']}/edit")
    expect(page.locator("#review-note")).to_have_text("The plate is ABC1235.")
    expect(page.locator("#f-children-0-name")).to_have_value("Jane Doe")
    expect(page.locator("#f-children-0-age")).to_have_value("7")
    expect(page.locator("#f-vehicle-plate")).to_be_visible()
    expect(page.locator(".area-label")).to_have_text("Cook County, IL")
    expect(page.locator("#audience")).to_have_text("5 subscribers in all", timeout=WAIT_MS)
    expect(page.locator('.preview-message[data-language="es"]')).to_be_visible()
    assert axe_violations(page) == []
    page.locator("#f-vehicle-plate").fill("ABC1235")
    # Sections holding stored content open by themselves.
    expect(page.locator("#texts-section")).to_have_attribute("open", "")
    page.get_by_role("button", name="Remove the es text").click()
    page.get_by_role("button", name="Submit for approval").click()
    after = stored(app, officers, submitted_id(page))
    assert after["state"] == "pending"
    assert after["revision"] > alert["revision"]
    assert after["content"]["vehicle"]["plate"] == "ABC1235"
    assert after["content"]["texts"] == {"en": "Call 911 with any information."}
    assert after["content"]["children"][0]["age"] == 7


def test_the_keyboard_alone_drafts_and_submits_with_a_county(
    console: Callable[[str], Page], app: Flask, officers: dict[str, str]
) -> None:
    page = console("tablet")

    def tab_to(selector: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#f-children-0-name")
    page.keyboard.type("Jane Doe")
    tab_to("#place-input")
    page.keyboard.type("Cook")
    expect(page.get_by_role("option", name="Cook County, IL")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator("#audience")).to_have_text("5 subscribers in all", timeout=WAIT_MS)
    tab_to("#f-contact_phone")
    page.keyboard.type("312 555 0100")
    page.keyboard.press("Enter")  # submits the form
    alert = stored(app, officers, submitted_id(page))
    assert alert["state"] == "pending"
    assert alert["content"]["areas"][0]["same"] == "017031"
