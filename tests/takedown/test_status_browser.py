"""The status page in a real browser: waits after wrong PINs, typos, and dates in every language.

Headless Chromium (tests/browser.py) against the real app over loopback, SQLite only, as in
test_page_flow_browser.py (whose session fixture this reuses).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from babel.dates import format_date
from babel.numbers import format_decimal
from flask.testing import FlaskClient
from playwright.sync_api import expect

from haven.i18n import ALL
from takedown import codes
from tests.factories import submit_case, video_hash
from tests.takedown.test_page_flow_browser import Session, open_session, page_strings

__all__ = ["open_session"]  # the fixture, used by name

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SUBMIT = "#lookup button[type=submit]"
WRONG = "AAAAA-AAAAA"


def look_up(session: Session, number: str, pin: str) -> None:
    page = session.page
    page.fill("#case-number", number)
    page.fill("#pin", pin)
    page.click(SUBMIT)


@pytest.mark.parametrize("settings_overrides", [{"pin_free_tries": 1, "pin_first_wait_seconds": 5}])
def test_after_a_wrong_pin_the_page_says_how_long_to_wait_and_the_right_pin_then_works(
    open_session: Callable[..., Session], client: FlaskClient
) -> None:
    created = submit_case(client, [video_hash()])
    session = open_session()
    session.expected_console += ["status of 404", "status of 429"]
    page = session.goto("/takedown/status")
    strings = page_strings(page)
    look_up(session, created["case_number"], WRONG)
    expect(page.locator("#lookup-error")).to_have_text(strings["case_not_found"])

    look_up(session, created["case_number"], created["pin"])  # within the wait
    before, after = strings["wait_to_retry"].split("%(wait)s")
    told = re.compile(re.escape(before) + r"[1-5] seconds" + re.escape(after))
    expect(page.locator("#lookup-error")).to_have_text(told)
    expect(page.locator(SUBMIT)).to_be_disabled()
    expect(page.locator("#case")).to_be_hidden()

    # Never locked out: once the wait is over the form works again, and the right PIN opens it.
    expect(page.locator(SUBMIT)).to_be_enabled(timeout=30_000)
    expect(page.locator("#lookup-error")).to_have_text(strings["retry_now"])
    page.click(SUBMIT)
    expect(page.locator("#case")).to_be_visible()
    expect(page.locator("#lookup-error")).to_be_empty()


def test_a_mistyped_case_number_is_caught_before_anything_is_sent(
    open_session: Callable[..., Session], client: FlaskClient
) -> None:
    created = submit_case(client, [video_hash()])
    plain = codes.normalise(created["case_number"])
    typo = codes.display_case_number(next(c for c in codes.ALPHABET if c != plain[0]) + plain[1:])
    session = open_session()
    page = session.goto("/takedown/status")
    strings = page_strings(page)
    sent_before = len(session.requests)
    look_up(session, typo.lower(), created["pin"])
    expect(page.locator("#lookup-error")).to_have_text(strings["case_number_mistyped"])
    assert not [r.url for r in session.requests[sent_before:] if "/api/" in r.url]
    look_up(session, created["case_number"].lower().replace("-", " "), created["pin"])
    expect(page.locator("#case")).to_be_visible()


@pytest.mark.parametrize("lang", ["km", "is", "ckb", "si"])
def test_dates_and_counts_on_the_status_page_are_babels_in_languages_chromium_lacks(
    open_session: Callable[..., Session], client: FlaskClient, lang: str
) -> None:
    created = submit_case(client, [video_hash(), video_hash(), video_hash()])
    number, pin = created["case_number"], created["pin"]
    submitted = client.get(f"/api/v1/takedown/cases/{number}", headers={"X-Case-Pin": pin})
    day = date.fromisoformat(submitted.json["submitted"][:10])  # type: ignore[index]
    session = open_session()
    page = session.goto(f"/lang/{lang}?next=/takedown/status")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    look_up(session, number, pin)
    expect(page.locator("#case")).to_be_visible()
    locale = ALL[lang].catalog
    expect(page.locator("#fact-submitted")).to_have_text(format_date(day, "long", locale=locale))
    expect(page.locator("#fact-hashes")).to_have_text(format_decimal(3, locale=locale))
    # What Chromium writes without locale data for these languages ("2026 M12 6").
    assert not re.search(r"M\d", page.text_content("#fact-submitted") or "")
