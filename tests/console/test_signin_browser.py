"""Enrolment and sign-in with a passkey in Debian's Chromium, through its virtual
authenticator over CDP, by keyboard alone; the pages obey the CSP and pass axe-core.

WebAuthn refuses an IP address as relying party, so the browser opens the live server as
http://localhost:<port>, and public_url says the same (RP ID "localhost")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext

from tests.alerts.test_subscriptions_browser import RECORD_CSP_VIOLATIONS, axe_violations
from tests.console.browser_support import serve_on_localhost, with_authenticator
from tests.console.test_enrol import PASSWORD, actions, new_officer

pytestmark = [
    pytest.mark.browser,
    # Storage is checked on both databases by test_enrol*.py and test_signin.py.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def base_url(app: Flask, live_server: str) -> str:
    return serve_on_localhost(app, live_server)


@pytest.fixture
def context(chromium: Browser, base_url: str) -> Iterator[BrowserContext]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=base_url)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert errors == []


def test_an_officer_enrols_a_passkey_and_signs_in_with_the_keyboard(
    app: Flask, context: BrowserContext, base_url: str
) -> None:
    token = new_officer(app)
    page = context.new_page()
    with_authenticator(context, page)

    page.goto(f"/console/enrol/{token}")
    assert axe_violations(page) == []
    # The authenticator app's QR code, drawn inline (no data: image, no CSP exception).
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150, box
    assert page.evaluate("window.__cspViolations") == []
    page.keyboard.type(PASSWORD)  # the new-password field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "register-key"
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sign-in?enrolled=1")
    assert actions(app)[-1] == ("factor_added", {"factor": "webauthn"})

    page.goto("/console/alerts/new")  # not signed in: sent to sign in, and back afterwards
    assert page.url == f"{base_url}/console/sign-in?next=/console/alerts/new"
    assert axe_violations(page) == []
    page.keyboard.type("Chicago PD")
    page.keyboard.press("Tab")
    page.keyboard.type("Drafter")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Use my security key or passkey").wait_for()
    assert axe_violations(page) == []
    page.keyboard.press("Enter")  # the key's button has the focus
    page.wait_for_url(f"{base_url}/console/alerts/new")
    assert actions(app)[-1] == ("sign_in", {"factor": "webauthn"})
    # The pre-session cookie is Lax, so that an enrolment link opened from e-mail keeps it.
    for name, same_site in (("haven_console", "Strict"), ("haven_console_pre", "Lax")):
        cookie = next(c for c in context.cookies() if c["name"] == name)
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == same_site
    assert page.evaluate("window.__cspViolations") == []

    # On a shared computer the officer signs out from the page's header.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/console/sign-in")
    assert actions(app)[-1] == ("sign_out", {})
    assert not any(c["name"] == "haven_console" for c in context.cookies())
