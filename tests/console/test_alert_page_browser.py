"""The approval queue and the alert page in Debian's Chromium, at a desk (1280x800) and on a
tablet (768x1024): the approver approves from the queue with the keyboard alone; delivery
progress follows the deliveries as they are recorded and as Twilio (a fake on loopback) takes
them; the drafter updates, then cancels; a stale revision says so and offers a reload. axe-core
finds no serious or critical problem, and no request leaves the server's origin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from alerts.console.store import end_sessions
from alerts.models import Officer
from haven.db import get_session, utcnow, write
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import dispatch
from tests.alerts.test_subscriptions_browser import RECORD_CSP_VIOLATIONS, axe_violations
from tests.console.browser_support import SCREENS, record, tab_to
from tests.console.support import open_session
from tests.console.test_home import ALERTS, drafted
from tests.factories import bearer, create_subscribers
from tests.fakes.twilio_server import FakeTwilio

pytestmark = [
    pytest.mark.browser,
    # The pages' content is checked on both databases by test_home.py and test_alert_page*.py.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONES = ["+13125550101", "+13125550102", "+13125550103"]


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {**fake_twilio.settings(), "sms_rate_per_second": 500.0}


@pytest.fixture
def console(
    chromium: Browser, live_server: str, app: Flask, officers: dict[str, str]
) -> Iterator[Callable[[str, str], Page]]:
    """Opens a page signed in as an officer ("drafter" or "approver") on a screen; fails on
    page errors, CSP violations and requests to any other origin."""
    create_subscribers(app, [(phone, *LOOP) for phone in PHONES])
    contexts: list[BrowserContext] = []
    requests: list[str] = []
    errors: list[str] = []

    def open_page(who: str, screen: str) -> Page:
        token, _csrf = open_session(app, officers[who])
        context = chromium.new_context(viewport=SCREENS[screen], base_url=live_server)
        context.add_cookies([{"name": "haven_console", "value": token, "url": live_server}])
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.on("request", lambda request: requests.append(request.url))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        for page in context.pages:
            assert page.evaluate("window.__cspViolations") == []
        context.close()
    assert errors == []
    assert all(url.startswith(f"{live_server}/") for url in requests), requests


def read(app: Flask, officers: dict[str, str], alert_id: int) -> dict[str, Any]:
    answer = app.test_client().get(f"{ALERTS}/{alert_id}", headers=bearer(officers["drafter"]))
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    return body


def approved(app: Flask, officers: dict[str, str]) -> dict[str, Any]:
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe", submit=True)
    answer = api.post(
        f"{ALERTS}/{alert['id']}/approve",
        json={"revision": alert["revision"]},
        headers=bearer(officers["approver"]),
    )
    assert answer.status_code == 200, answer.json
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    return body


@pytest.mark.parametrize("screen", ["desk", "tablet"])
def test_the_approver_approves_from_the_queue_with_the_keyboard_and_watches_it_go_out(
    console: Callable[[str, str], Page],
    app: Flask,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    screen: str,
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe", submit=True)
    page = console("approver", screen)
    page.goto("/console/")
    queued = page.locator("#approval-queue li")
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("AMBER Alert: Jane Doe")
    expect(queued).to_contain_text("waiting")
    assert axe_violations(page) == []

    tab_to(page, f'#approval-queue a[href="/console/alerts/{alert["id"]}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/alerts/{alert['id']}")
    expect(page.locator("#preview .preview-item").first).to_contain_text("Jane Doe")
    expect(page.locator("#audience")).to_contain_text("Reaches 3 subscribers now.")
    expect(page.locator("#alert-map .leaflet-interactive").first).to_be_visible()
    expect(page.locator("#audit li").first).to_contain_text("Submitted for approval")
    assert axe_violations(page) == []

    tab_to(page, "#approve-form button[type=submit]")
    expect(page.locator("#approve-form button")).to_have_text(
        f"Approve revision {alert['revision']} and send"
    )
    page.keyboard.press("Enter")
    expect(page.locator("#page-message")).to_contain_text("Approved")
    expect(page.locator("#alert-state")).to_have_text("Active")
    assert read(app, officers, alert["id"])["state"] == "active"
    expect(page.locator("#approve-form")).to_have_count(0)
    expect(page.locator("#audit li").first).to_contain_text("Approved and sent by Approver")

    # The page polls: it shows the deliveries once recorded, then as Twilio takes them.
    record(app)
    expect(page.locator("#progress-remaining")).to_have_text("3")
    sms_pending = page.locator('#progress-table td[data-channel=sms][data-status="pending"]')
    expect(sms_pending).to_have_text("3")
    dispatch(app)
    assert len(fake_twilio.messages) == 3
    expect(page.locator("#progress")).to_have_attribute("data-finished", "yes")
    expect(page.locator('#progress-table td[data-channel=sms][data-status="queued"]')).to_have_text(
        "3"
    )
    expect(page.locator("#progress-remaining")).to_have_text("0")
    expect(page.locator("#progress-eta")).to_have_text("done")
    expect(page.locator("#progress-rate")).not_to_have_text("–")
    expect(page.locator("#progress-summary")).to_have_text(
        "Sending done: 3 deliveries of version 1."
    )
    assert page.locator("#progress-summary").get_attribute("aria-live") == "polite"
    assert page.locator("#progress-table").get_attribute("aria-live") is None
    assert axe_violations(page) == []


@pytest.mark.parametrize("screen", ["desk", "tablet"])
def test_the_drafter_updates_with_a_preview_of_the_update_then_cancels(
    console: Callable[[str, str], Page],
    app: Flask,
    officers: dict[str, str],
    screen: str,
) -> None:
    alert = approved(app, officers)
    page = console("drafter", screen)
    page.goto(f"/console/alerts/{alert['id']}")
    expect(page.locator("#preview .preview-item").first).to_contain_text("Jane Doe")
    page.fill("#update-place", "Navy Pier")
    page.fill("#update-direction", "north on Lake Shore Drive")
    update_preview = page.locator("#update-preview .preview-item").first
    expect(update_preview).to_contain_text("Navy Pier")
    expect(update_preview).to_contain_text("segment")
    # A circle added to the areas, through the drafting form's area editor.
    page.click("#update-areas > summary")
    expect(page.locator("#area-list .area-item")).to_have_count(1)
    expect(page.locator("#update-audience")).to_have_text("These areas reach 3 subscribers.")
    page.click("#circle-panel > summary")
    page.fill("#circle-point", "41.8781, -87.6298")
    page.fill("#circle-radius", "2")
    page.click("#circle-add")
    expect(page.locator("#area-list .area-item")).to_have_count(2)
    expect(page.locator('#area-list .area-count[data-area="1"]')).to_have_text("3 subscribers")
    assert axe_violations(page) == []
    page.click("#update-form button[type=submit]")
    expect(page.locator("#page-message")).to_contain_text("Update sent: version 2")
    stored = read(app, officers, alert["id"])
    assert stored["version"] == 2
    assert stored["content"]["last_seen"]["place"] == "Navy Pier"
    assert stored["content"]["last_seen"]["direction"] == "north on Lake Shore Drive"
    assert stored["content"]["contact_phone"] == alert["content"]["contact_phone"]
    assert stored["content"]["areas"][0]["same"] == alert["content"]["areas"][0]["same"]
    assert stored["content"]["areas"][1]["circle"] == "41.8781,-87.6298 2"
    expect(page.locator("#audit li").first).to_contain_text("Updated by Drafter")

    page.select_option("#cancel-reason", "child_found")
    page.fill("#cancel-note", "Found safe at Navy Pier.")
    page.click("#cancel-form button[type=submit]")
    expect(page.locator("#page-message")).to_contain_text("Cancelled.")
    expect(page.locator("#alert-state")).to_have_text("Cancelled")
    assert read(app, officers, alert["id"])["state"] == "cancelled"
    expect(page.locator("#audit li").first).to_contain_text("Cancelled by Drafter")
    expect(page.locator("#update-form")).to_have_count(0)
    assert axe_violations(page) == []


def test_approving_a_revision_that_changed_since_says_so_and_offers_a_reload(
    console: Callable[[str, str], Page], app: Flask, officers: dict[str, str]
) -> None:
    api = app.test_client()
    alert = drafted(api, officers["drafter"], "Jane Doe", submit=True)
    page = console("approver", "desk")
    page.goto(f"/console/alerts/{alert['id']}")
    expect(page.locator("#approve-form")).to_be_visible()
    # Meanwhile, in another tab, the drafter changes the alert.
    changed = api.post(
        f"{ALERTS}/{alert['id']}/update",
        json={"contact_phone": "+18005550000"},
        headers=bearer(officers["drafter"]),
    )
    assert changed.status_code == 200, changed.json
    again = api.post(f"{ALERTS}/{alert['id']}/submit", headers=bearer(officers["drafter"]))
    assert again.status_code == 200, again.json
    page.click("#approve-form button[type=submit]")
    message = page.locator("#page-message")
    expect(message).to_contain_text(f"revision {changed.json['revision']}")
    expect(message.get_by_role("link")).to_have_text("Reload the alert to see the newer revision")
    assert read(app, officers, alert["id"])["state"] == "pending"
    assert axe_violations(page) == []


def test_the_approver_returns_an_alert_with_a_reason_the_drafter_then_reads(
    console: Callable[[str, str], Page], app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe", submit=True)
    page = console("approver", "desk")
    page.goto(f"/console/alerts/{alert['id']}")
    page.click("#return-form button[type=submit]")  # no reason yet: nothing is sent
    expect(page.locator("#page-message")).to_contain_text("Give the reason")
    assert read(app, officers, alert["id"])["state"] == "pending"
    page.fill("#return-reason", "Add the vehicle's colour.")
    page.click("#return-form button[type=submit]")
    expect(page.locator("#page-message")).to_contain_text("Returned to the drafter")
    assert read(app, officers, alert["id"])["state"] == "draft"
    drafter = console("drafter", "desk")
    drafter.goto(f"/console/alerts/{alert['id']}")
    expect(drafter.locator(".review-note")).to_have_text("Add the vehicle's colour.")
    expect(drafter.get_by_role("link", name="Edit the draft")).to_have_attribute(
        "href", f"/console/alerts/{alert['id']}/edit"
    )


def test_an_action_after_the_session_ended_says_so_and_links_to_sign_in_again(
    console: Callable[[str, str], Page], app: Flask, officers: dict[str, str]
) -> None:
    alert = drafted(app.test_client(), officers["drafter"], "Jane Doe", submit=True)
    page = console("approver", "desk")
    page.goto(f"/console/alerts/{alert['id']}")
    expect(page.locator("#approve-form")).to_be_visible()
    # Meanwhile the session ends (signed out in another tab, or ended by an administrator).
    with app.app_context():
        session = get_session()
        approver = session.scalars(select(Officer).where(Officer.name == "Approver")).one()
        with write(session):
            end_sessions(session=session, officer_id=approver.id, now=utcnow())
    page.click("#approve-form button[type=submit]")
    notice = page.locator("#session-ended")
    expect(notice).to_have_text("Your session has ended: sign in again")
    expect(notice.get_by_role("link")).to_have_attribute(
        "href", f"/console/sign-in?next=%2Fconsole%2Falerts%2F{alert['id']}"
    )
    assert read(app, officers, alert["id"])["state"] == "pending"
    assert axe_violations(page) == []
