"""The Take It Down page's review step in a real browser: what will be sent, in plain words.

Headless Debian Chromium (tests/browser.py) on the real app (`live_server`), SQLite only (the
API's behaviour on PostgreSQL is tested in test_cases_api.py). The photos are the EXIF-rotated
ones of tests/data/pdq/rotated/ (made by its make.py, with pdqhash reference hashes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_decimal
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from haven.db import get_session
from haven.i18n import ALL, LANGUAGES
from takedown import codes, store
from tests.browser import REPO

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

ROTATED = REPO / "tests" / "data" / "pdq" / "rotated"
REFERENCE = {r["file"]: r for r in json.loads((ROTATED / "reference.json").read_text())}
PHONE = {"width": 360, "height": 740}
MAX_DISTANCE = 10
HASHING_TIMEOUT_MS = 60_000
CLEAR = re.compile(r"\bpreviews-clear\b")


@pytest.fixture
def page(chromium: Browser, live_server: str) -> Iterator[Page]:
    """The page on a phone-sized screen; fails the test on an uncaught error in it."""
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server}/takedown/")
    yield page
    context.close()
    assert not errors, errors


def page_strings(page: Page) -> dict[str, str]:
    strings: dict[str, str] = json.loads(page.text_content("#i18n-strings") or "{}")
    return strings


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def choose(page: Page, files: list[Path]) -> list[dict[str, Any]]:
    """Choose `files`, wait until they are fingerprinted: the hashes the page will send."""
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator("#send")).to_be_enabled(timeout=HASHING_TIMEOUT_MS)
    hashes: list[dict[str, Any]] = json.loads(page.text_content("#payload") or "")["hashes"]
    return hashes


def summary(page: Page) -> list[tuple[str, list[str]]]:
    """The plain-words list: each file's name and the lines under it."""
    rows = page.locator("#sent-summary > li")
    return [
        (
            rows.nth(i).locator(".sent-name").inner_text(),
            rows.nth(i).locator(".sent-what li").all_inner_texts(),
        )
        for i in range(rows.count())
    ]


def test_a_rotated_photo_sends_its_pdq_upright_and_as_stored_and_its_md5_said_plainly(
    page: Page, app: Flask, tmp_path: Path
) -> None:
    photo = ROTATED / "orientation-6.jpg"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    strings = page_strings(page)
    hashes = choose(page, [photo, notes])

    reference = REFERENCE[photo.name]
    md5s = [h for h in hashes if h["algorithm"] == "md5"]
    pdqs = [h for h in hashes if h["algorithm"] == "pdq"]
    assert md5s == [{"media": "image", "algorithm": "md5", "value": md5(photo)}]
    assert len(pdqs) == 2
    assert hamming(pdqs[0]["value"], reference["upright_pdq"]) <= MAX_DISTANCE
    assert hamming(pdqs[1]["value"], reference["stored_pdq"]) <= MAX_DISTANCE
    assert summary(page) == [
        (
            photo.name,
            [strings["sent_pictures_2"], strings["sent_two_ways"], strings["sent_files_1"]],
        ),
        (notes.name, [strings["sent_nothing"]]),
    ]
    assert strings["sent_pictures_2"] == "2 picture fingerprints"
    # The exact request stays one tap away, closed at first.
    expect(page.locator("details.payload")).not_to_have_attribute("open", "")
    expect(page.locator("#payload")).to_be_hidden()
    page.click("details.payload summary")
    expect(page.locator("#payload")).to_be_visible()

    with page.expect_response("**/api/v1/takedown/cases") as answer:
        page.click("#send")
    created = answer.value.json()
    assert created["hashes"] == len(hashes) == 3
    with app.app_context():
        session = get_session()
        case = store.get_case_by_number(
            session=session, number=codes.normalise(created["case_number"])
        )
        assert case is not None
        kept = store.fetch_case_hashes(session=session, case_id=case.id)
    assert sorted((h.algorithm, h.value) for h in kept) == sorted(
        (h["algorithm"], h["value"]) for h in hashes
    )


def test_a_picture_fingerprint_two_photos_share_is_sent_once_and_counted_once(
    page: Page,
) -> None:
    # The same picture, stored turned two ways: upright, both hash alike.
    first, second = ROTATED / "orientation-6.jpg", ROTATED / "orientation-8.jpg"
    assert REFERENCE[first.name]["upright_pdq"] == REFERENCE[second.name]["upright_pdq"]
    strings = page_strings(page)
    hashes = choose(page, [first, second])
    keys = [(h["algorithm"], h["value"]) for h in hashes]
    assert len(keys) == len(set(keys)) == 5  # two MD5s, one upright PDQ, two as stored
    assert summary(page) == [
        (
            first.name,
            [strings["sent_pictures_2"], strings["sent_two_ways"], strings["sent_files_1"]],
        ),
        (
            second.name,
            [strings["sent_pictures_1"], strings["sent_files_1"], strings["sent_shared"]],
        ),
    ]


def test_a_photo_without_a_turn_sends_one_picture_fingerprint(page: Page) -> None:
    strings = page_strings(page)
    hashes = choose(page, [ROTATED / "orientation-1.jpg"])
    assert [h["algorithm"] for h in hashes] == ["md5", "pdq"]
    assert summary(page) == [
        ("orientation-1.jpg", [strings["sent_pictures_1"], strings["sent_files_1"]])
    ]


def test_the_blur_button_says_what_it_will_do_and_does_it(page: Page) -> None:
    choose(page, [ROTATED / "orientation-1.jpg"])
    toggle = page.locator("#blur-toggle")
    app = page.locator("#app")
    # Its label changes with the state, so it is a plain button, not a toggle (aria-pressed).
    assert toggle.get_attribute("aria-pressed") is None
    expect(toggle.locator(".when-blurred")).to_be_visible()
    expect(toggle.locator(".when-clear")).to_be_hidden()
    expect(app).not_to_have_class(CLEAR)
    toggle.click()
    expect(app).to_have_class(CLEAR)
    expect(toggle.locator(".when-blurred")).to_be_hidden()
    expect(toggle.locator(".when-clear")).to_be_visible()
    toggle.click()
    expect(app).not_to_have_class(CLEAR)
    expect(toggle.locator(".when-blurred")).to_be_visible()


COUNTS = (0, 7, 999, 1000, 12345, 1234567)


def test_the_page_writes_counts_as_babel_does_in_every_language(
    page: Page, live_server: str
) -> None:
    # "Fingerprints made: 3 of 12" is counted in the browser, so its numbers are written with
    # the server's group sign and sizes (strings.js formatCount), never the browser's locale.
    for lang in LANGUAGES:
        page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
        page.goto(f"{live_server}/takedown/")
        written = page.evaluate(
            """async (counts) => {
              const { formatCount } = await import("/static/takedown/strings.js");
              return counts.map(formatCount);
            }""",
            list(COUNTS),
        )
        babel = [format_decimal(count, locale=ALL[lang].catalog) for count in COUNTS]
        assert written == babel, lang
