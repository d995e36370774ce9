"""The officers' console from end to end in Debian's Chromium, with no shortcut: two officers
of one agency enrol from the links `haven officer add` prints (one with a passkey in Chromium's
virtual authenticator, one with an authenticator app) and sign in through the sign-in page; the
first drafts an alert over a county, a circle and a polygon drawn on the map, sees the live
audience the test counts for itself, and submits it; the second, by keyboard alone, finds it
in the approval queue and approves it; the alert page follows the SMS as Twilio (a fake on
loopback) takes them, one to each subscriber inside and none outside; the first updates the
alert with the update's preview shown, then cancels it, and the audit trail shows each step.
Every page passes axe-core, obeys the CSP, asks only its own origin and fits the screen.

At a desk (1280x800) on PostgreSQL and on a tablet (768x1024) on SQLite: both databases see
the whole flow once. With HAVEN_SCREENSHOTS=1 the desk run writes the console's screenshots
in docs/screenshots/:

    HAVEN_SCREENSHOTS=1 .venv/bin/pytest tests/console/test_whole_flow_browser.py -k desk
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import Browser, FloatRect, Page, expect
from shapely.geometry import Point, Polygon

from haven.cli import main
from tests.alerts.test_dispatch import dispatch
from tests.alerts.test_subscriptions_browser import RECORD_CSP_VIOLATIONS, axe_violations
from tests.browser import REPO
from tests.console.browser_support import (
    SCREENS,
    record,
    serve_on_localhost,
    tab_to,
    with_authenticator,
)
from tests.console.test_enrol import PASSWORD
from tests.factories import bearer, create_agency, create_subscribers
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [pytest.mark.browser]

SCREENSHOTS = REPO / "docs" / "screenshots"
# The first count or lookup of a run loads the server's indexes; the machine is shared.
WAIT_MS = 20_000
AGENCY = "Chicago PD"  # its jurisdiction is Illinois
DRAFTER, APPROVER = "Rivera", "Okafor"
PEORIA = (40.6936, -89.5890)
CIRCLE_KM = 2.0
# The polygon is drawn on the map around its middle, once the map shows the circle alone: the
# map then sits at its most zoomed (10) on the circle's centre, where these pixels span about
# 0.12 degrees of longitude and 0.08 of latitude either way, on any screen.
CORNERS = [(-90, -80), (90, -80), (90, 80), (-90, 80), (-90, -80)]


class Subscriber(NamedTuple):
    phone: str
    lat: float
    lon: float
    language: str
    areas: frozenset[str]  # the areas it lies in, by construction: cook, circle, polygon


def _at(phone: str, lat: float, lon: float, *areas: str, language: str = "en") -> Subscriber:
    return Subscriber(phone, lat, lon, language, frozenset(areas))


SUBSCRIBERS = [
    # Downtown Chicago, in Cook County.
    _at("+13125550101", 41.8781, -87.6298, "cook"),
    _at("+13125550102", 41.8791, -87.6298, "cook"),
    _at("+13125550103", 41.8790, -87.6310, "cook", language="es"),
    # Peoria: within a few hundred metres of the circle's centre, so in the polygon too.
    _at("+13095550101", PEORIA[0] + 0.003, PEORIA[1], "circle", "polygon"),
    _at("+13095550102", PEORIA[0] - 0.003, PEORIA[1], "circle", "polygon"),
    # Some 5 km out of Peoria: outside the circle, well inside the polygon.
    _at("+13095550103", PEORIA[0] + 0.04, PEORIA[1], "polygon"),
    _at("+13095550104", PEORIA[0], PEORIA[1] - 0.06, "polygon"),
    # Outside every area: 22 km north of Peoria, and Springfield (Illinois, not Cook County).
    _at("+13095550105", PEORIA[0] + 0.2, PEORIA[1]),
    _at("+12175550101", 39.7817, -89.6501),
    _at("+12175550102", 39.7817, -89.6491),
]
INSIDE = {s.phone for s in SUBSCRIBERS if s.areas}


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {**fake_twilio.settings(), "sms_rate_per_second": 500.0}


@pytest.fixture
def base_url(app: Flask, live_server: str) -> str:
    return serve_on_localhost(app, live_server)


@pytest.fixture
def open_browser(chromium: Browser, base_url: str, screen: str) -> Iterator[Callable[[], Page]]:
    """Opens an officer's own browser (a context of its own) on the screen; fails on page
    errors and on any request to another origin."""
    contexts = []
    requests: list[str] = []
    errors: list[str] = []

    def open_() -> Page:
        context = chromium.new_context(viewport=SCREENS[screen], base_url=base_url)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.on("request", lambda request: requests.append(request.url))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
    assert errors == []
    assert all(url.startswith(f"{base_url}/") for url in requests), requests


def check(page: Page, screen: str) -> None:
    """A page as it is now: no serious or critical axe-core problem, nothing its
    Content-Security-Policy refused, and nothing wider than the screen."""
    assert axe_violations(page) == [], page.url
    assert page.evaluate("window.__cspViolations") == [], page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SCREENS[screen]["width"], f"{page.url} is {width} px wide"


def screenshot(
    page: Page, screen: str, name: str, part: str | None = None, down_to: str | None = None
) -> None:
    """With HAVEN_SCREENSHOTS=1, at a desk: docs/screenshots/console-`name`.png, of the screen,
    or of the element `part` (from its top down to the bottom of `down_to`, when given)."""
    if os.environ.get("HAVEN_SCREENSHOTS") != "1" or screen != "desk":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"console-{name}.png"
    page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
    if part is None:
        page.screenshot(path=path, animations="disabled")
        return
    box = page.locator(part).bounding_box()
    end = page.locator(down_to or part).bounding_box()
    assert box is not None
    assert end is not None
    clip: FloatRect = {**box, "height": end["y"] + end["height"] - box["y"]}
    page.screenshot(path=path, full_page=True, clip=clip, animations="disabled")


def officer_add(
    app: Flask, public_url: str, name: str, *, approver: bool = False
) -> dict[str, str]:
    """`haven officer add AGENCY NAME --json`, run as an operator would: what it prints (the
    API key and the enrolment link)."""
    haven = CliRunner(
        env={
            "HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url),
            "HAVEN_PUBLIC_URL": public_url,
        }
    )
    options = ["--approver"] if approver else []
    result = haven.invoke(main, ["officer", "add", AGENCY, name, "--json", *options])
    assert result.exit_code == 0, result.output
    added: dict[str, str] = json.loads(result.output)
    assert added["enrolment_link"].startswith(f"{public_url}/console/enrol/hve_")
    return added


def sign_in_by_keyboard(page: Page, name: str) -> None:
    """The sign-in page's first step by keyboard: agency, name and password."""
    expect(page.locator("#agency")).to_be_focused()
    page.keyboard.type(AGENCY)
    page.keyboard.press("Tab")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


def enrol_and_sign_in_with_a_passkey(page: Page, link: str, base_url: str, screen: str) -> None:
    page.bring_to_front()
    with_authenticator(page.context, page)
    page.goto(link)
    check(page, screen)
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.get_by_role("button", name="Register a security key or passkey").click()
    page.wait_for_url("**/console/sign-in?enrolled=1")
    check(page, screen)
    page.get_by_label("Agency").fill(AGENCY)
    page.get_by_label("Your name").fill(DRAFTER)
    screenshot(page, screen, "1-signin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    key = page.get_by_role("button", name="Use my security key or passkey")
    expect(key).to_be_visible()
    check(page, screen)
    key.click()
    page.wait_for_url(f"{base_url}/console/")


def enrol_and_sign_in_with_an_app_by_keyboard(
    page: Page, link: str, base_url: str, screen: str
) -> None:
    page.bring_to_front()
    page.goto(link)
    check(page, screen)
    secret = page.locator("#totp-secret").inner_text()
    page.keyboard.type(PASSWORD)  # the new password has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    tab_to(page, "#code")
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sign-in?enrolled=1")
    sign_in_by_keyboard(page, APPROVER)
    expect(page.locator("#code")).to_be_focused()
    check(page, screen)
    # The code that enrolled is spent; the next step's code is taken (one step either side is).
    page.keyboard.type(pyotp.TOTP(secret).at(time.time() + 30))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/console/")


def draw_polygon(page: Page) -> None:
    """Draws CORNERS on the map, around its middle, with the mouse, once the map shows the
    circle up close (a map left where it was would make another polygon)."""
    page.wait_for_function(
        """() => {
          const circle = document.querySelector('#map path[stroke="#0d5a61"]');
          return circle !== null && circle.getBoundingClientRect().width > 20;
        }"""
    )
    page.locator("#polygon-panel summary").click()
    page.get_by_role("button", name="Draw on the map").click()
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    assert box is not None
    assert box["width"] > 200, box
    assert box["height"] > 180, box
    middle_x, middle_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in CORNERS:
        page.mouse.click(middle_x + dx, middle_y + dy)


def audience_says(page: Page, areas: list[str]) -> None:
    """The live audience shows what the test counts itself for these areas, in all and per
    area (a subscriber in two areas counts once in all)."""
    total = sum(1 for s in SUBSCRIBERS if s.areas & set(areas))
    expect(page.locator("#audience")).to_have_text(f"{total} subscribers in all", timeout=WAIT_MS)
    per_area = [sum(1 for s in SUBSCRIBERS if area in s.areas) for area in areas]
    expect(page.locator(".area-item .area-count")).to_have_text(
        [f"{n} subscribers" for n in per_area], timeout=WAIT_MS
    )


def draft_and_submit(page: Page, screen: str) -> int:
    """Officer A drafts over a circle, a polygon drawn on the map and a county, then submits."""
    # Each officer has a browser of their own; Chromium animates only the page in front.
    page.bring_to_front()
    page.get_by_role("link", name="New alert").click()
    expect(page.locator("#draft-form")).to_have_attribute("data-ready", "true")
    page.locator("#f-children-0-name").fill("Jane Doe")
    page.locator("#f-contact_phone").fill("309 555 0100")
    page.locator("#circle-panel summary").click()
    page.locator("#circle-point").fill(f"{PEORIA[0]}, {PEORIA[1]}")
    page.locator("#circle-radius").fill(str(CIRCLE_KM))
    page.locator("#circle-add").click()
    audience_says(page, ["circle"])
    draw_polygon(page)
    expect(page.locator(".area-label").nth(1)).to_have_text("Polygon of 4 points")
    audience_says(page, ["circle", "polygon"])
    page.locator("#place-input").fill("Cook")
    page.get_by_role("option", name="Cook County, IL").click()
    audience_says(page, ["circle", "polygon", "cook"])
    english = page.locator('.preview-message[data-language="en"]')
    expect(english.locator(".preview-sms")).to_contain_text("Jane Doe", timeout=WAIT_MS)
    expect(english.locator(".subscribers")).to_have_text("6")
    expect(page.locator('.preview-message[data-language="es"] .subscribers')).to_have_text("1")
    check(page, screen)
    screenshot(page, screen, "2-draft", ".draft-columns", "#areas-section")
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_url(re.compile(r".*/console/alerts/\d+$"))
    check(page, screen)
    return int(page.url.rsplit("/", 1)[1])


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, on a 6371 km sphere)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def check_areas_as_stored(areas: list[dict[str, Any]]) -> None:
    """The areas submitted hold, by the test's own geometry, the subscribers the test placed
    in each: the drawn polygon and the circle, as stored, are what was counted."""
    circle, polygon, county = areas
    centre, radius = circle["circle"].split()
    lat, lon = map(float, centre.split(","))
    assert (lat, lon, float(radius)) == (*PEORIA, CIRCLE_KM)
    ring = Polygon(
        [tuple(map(float, pair.split(",")))[::-1] for pair in polygon["polygon"].split()]
    )
    for s in SUBSCRIBERS:
        assert (km_between((lat, lon), (s.lat, s.lon)) <= CIRCLE_KM) == ("circle" in s.areas), s
        assert ring.contains(Point(s.lon, s.lat)) == ("polygon" in s.areas), s
    assert county["same"] == "017031"  # Cook County


def approve_by_keyboard(page: Page, alert_id: int, screen: str) -> None:
    """Officer B finds the alert in the approval queue and approves it, by keyboard alone."""
    page.bring_to_front()
    page.goto("/console/")
    queued = page.locator("#approval-queue li")
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("AMBER Alert: Jane Doe")
    check(page, screen)
    screenshot(page, screen, "3-queue")
    tab_to(page, f'#approval-queue a[href="/console/alerts/{alert_id}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/alerts/{alert_id}")
    expect(page.locator("#audience")).to_have_text(
        f"Reaches {len(INSIDE)} subscribers now.", timeout=WAIT_MS
    )
    expect(page.locator("#preview .preview-item").first).to_contain_text("Jane Doe")
    check(page, screen)
    tab_to(page, "#approve-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#page-message")).to_contain_text("Approved", timeout=WAIT_MS)
    expect(page.locator("#alert-state")).to_have_text("Active")


def watch_it_go_out(page: Page, app: Flask, fake_twilio: FakeTwilio, screen: str) -> None:
    """The alert page follows the deliveries as they are recorded, then as Twilio takes them."""
    record(app)
    expect(page.locator("#progress-remaining")).to_have_text(str(len(INSIDE)))
    dispatch(app)
    assert Counter(m.to for m in fake_twilio.messages) == dict.fromkeys(INSIDE, 1)
    expect(page.locator("#progress")).to_have_attribute("data-finished", "yes")
    expect(page.locator("#progress-remaining")).to_have_text("0")
    expect(page.locator("#progress-summary")).to_have_text(
        f"Sending done: {len(INSIDE)} deliveries of version 1."
    )
    check(page, screen)
    screenshot(page, screen, "4-alert")


def update_then_cancel(page: Page, alert_id: int, screen: str) -> None:
    """Officer A sends an update, previewed as typed, then cancels with a reason."""
    page.bring_to_front()
    page.goto(f"/console/alerts/{alert_id}")
    expect(page.locator("#alert-state")).to_have_text("Active")
    page.fill("#update-place", "Riverfront Park, Peoria")
    page.fill("#update-direction", "south on I-74")
    page.fill("#update-vehicle-plate", "TRK 2231")  # the vehicle was not known at first
    # The update's message in each language the audience reads, as it will be sent.
    update_preview = page.locator("#update-preview .sms")
    expect(update_preview).to_have_count(2, timeout=WAIT_MS)
    expect(update_preview.and_(page.locator("[lang=en]"))).to_contain_text("Riverfront Park")
    expect(update_preview.and_(page.locator("[lang=es]"))).to_contain_text("Riverfront Park")
    expect(update_preview.and_(page.locator("[lang=en]"))).to_contain_text("TRK 2231")
    check(page, screen)
    screenshot(page, screen, "5-update", "#update-form")
    page.get_by_role("button", name="Send the update").click()
    expect(page.locator("#page-message")).to_contain_text("Update sent: version 2", timeout=WAIT_MS)
    page.select_option("#cancel-reason", "child_found")
    page.fill("#cancel-note", "Found safe in Peoria.")
    page.locator("#cancel-form button[type=submit]").click()
    expect(page.locator("#page-message")).to_contain_text("Cancelled.", timeout=WAIT_MS)
    expect(page.locator("#alert-state")).to_have_text("Cancelled")
    steps = page.locator("#audit li strong")
    expect(steps).to_have_text(
        ["Cancelled", "Updated", "Approved and sent", "Submitted for approval", "Created"]
    )
    who = page.locator("#audit li")
    for item, name in zip(range(5), [DRAFTER, DRAFTER, APPROVER, DRAFTER, DRAFTER], strict=True):
        expect(who.nth(item)).to_contain_text(f"by {name}")
    expect(who.first).to_contain_text("reason: child_found")
    check(page, screen)


@pytest.mark.parametrize(
    ("database_url", "screen"),
    [("postgres", "desk"), ("sqlite", "tablet")],
    indirect=["database_url"],
)
def test_two_officers_enrol_sign_in_draft_approve_and_follow_an_alert_to_its_cancel(
    app: Flask,
    base_url: str,
    open_browser: Callable[[], Page],
    fake_twilio: FakeTwilio,
    screen: str,
) -> None:
    create_agency(app, AGENCY)
    rows = [s for s in SUBSCRIBERS if s.language == "en"]
    create_subscribers(app, [(s.phone, s.lat, s.lon) for s in rows])
    spanish = [s for s in SUBSCRIBERS if s.language == "es"]
    create_subscribers(app, [(s.phone, s.lat, s.lon) for s in spanish], language="es")

    added = officer_add(app, base_url, DRAFTER)
    link = officer_add(app, base_url, APPROVER, approver=True)["enrolment_link"]
    drafter, approver = open_browser(), open_browser()
    enrol_and_sign_in_with_a_passkey(drafter, added["enrolment_link"], base_url, screen)
    enrol_and_sign_in_with_an_app_by_keyboard(approver, link, base_url, screen)

    alert_id = draft_and_submit(drafter, screen)
    key = bearer(added["api_key"])
    stored = app.test_client().get(f"/api/v1/alerts/{alert_id}", headers=key).json
    assert stored is not None
    assert stored["state"] == "pending"
    check_areas_as_stored(stored["content"]["areas"])

    approve_by_keyboard(approver, alert_id, screen)
    watch_it_go_out(approver, app, fake_twilio, screen)
    update_then_cancel(drafter, alert_id, screen)
    # The update and the cancel go to everyone the alert reached, and to nobody else.
    dispatch(app)
    assert Counter(m.to for m in fake_twilio.messages) == dict.fromkeys(INSIDE, 3)
