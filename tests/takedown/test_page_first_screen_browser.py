"""The Take It Down page's first screen on a small phone, in every language.

Headless Debian Chromium (tests/browser.py) on the real app (`live_server`), SQLite only:
this is about layout, not the API.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from haven.languages import LANGUAGES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONE = {"width": 360, "height": 740}


def test_choose_files_is_on_the_first_screen_of_a_360_by_740_phone_in_every_language(
    chromium: Browser, live_server: str
) -> None:
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    below: dict[str, float] = {}
    try:
        for lang in LANGUAGES:
            page.goto(f"{live_server}/lang/{lang}?next=/takedown/")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            button = page.locator("#choose-label")
            expect(button).to_be_visible()
            assert page.evaluate("window.scrollY") == 0
            box = button.bounding_box()
            assert box is not None
            if box["y"] + box["height"] > PHONE["height"]:
                below[lang] = box["y"] + box["height"]
    finally:
        context.close()
    assert not below, f"the Choose files button ends below the first screen (px): {below}"
