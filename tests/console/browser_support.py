"""Helpers the console's browser tests share: the screens they run on, a virtual passkey in
Chromium, the live server opened as http://localhost (WebAuthn refuses an IP address as relying
party), moving the focus by Tab as a keyboard user does, and recording deliveries."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import BrowserContext, Page, ViewportSize

from alerts.dispatch.service import record_next_job
from haven.db import get_session

SCREENS: dict[str, ViewportSize] = {
    "desk": {"width": 1280, "height": 800},
    "tablet": {"width": 768, "height": 1024},
}

# A platform authenticator holding passkeys, that verifies its user without asking.
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def serve_on_localhost(app: Flask, live_server: str) -> str:
    """The live server's URL with the host `localhost`, made the app's public URL, so that
    WebAuthn's relying party ID is "localhost" and the browser's origin the one expected."""
    url = live_server.replace("127.0.0.1", "localhost")
    app.extensions["haven.settings"].public_url = url
    return url


def with_authenticator(context: BrowserContext, page: Page) -> str:
    """Give the page a virtual platform authenticator (a passkey); its id."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    authenticator_id: str = added["authenticatorId"]
    return authenticator_id


def tab_to(page: Page, selector: str, presses: int = 80) -> None:
    """Presses Tab until the element `selector` has the focus, as a keyboard user would."""
    target = page.locator(selector)
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("(element) => element === document.activeElement"):
            return
    raise AssertionError(f"{selector} never got the focus by Tab")


def record(app: Flask) -> None:
    """Record the queued versions' deliveries, sending none (a worker's first step)."""
    with app.app_context():
        while record_next_job(session=get_session(), audience=app.extensions["haven.audience"]):
            pass
