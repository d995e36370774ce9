"""The Take It Down pages in a real browser against the real app: privacy, languages, access.

Headless Debian Chromium (tests/browser.py) drives the app served over loopback
(`live_server`). The pages call the same API on either database, so these tests run on
SQLite only; the API's behaviour on PostgreSQL is tested in test_cases_api.py.

With HAVEN_SCREENSHOTS=1, the whole-flow test also writes the screenshots in docs/screenshots/:

    HAVEN_SCREENSHOTS=1 .venv/bin/pytest tests/takedown/test_page_flow_browser.py -k whole_flow
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, expect

from haven.db import get_session
from haven.i18n import ALL
from takedown import codes, store, vpdq
from tests.browser import REPO
from tests.videos import match_percent, parse_signal, reference

pytestmark = [
    pytest.mark.browser,
    # One backend: the browser sees the same API on both.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PDQ_DATA = REPO / "tests" / "data" / "pdq"
REFERENCE = {row["file"]: row for row in json.loads((PDQ_DATA / "reference.json").read_text())}
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
FFMPEG = ("ffmpeg", "-nostdin", "-loglevel", "error", "-y")
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
SCREENSHOTS = REPO / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}
HASHING_TIMEOUT_MS = 60_000
# Upload bound: a hash entry is about 100 bytes of JSON and an image sends two.
UPLOAD_BYTES_PER_FILE = 512
UPLOAD_BYTES_OVERHEAD = 1024
# Records what the page's Content-Security-Policy refuses (DevTools runs this, not the page).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core (an npm devDependency, installed by `make vendor`), for the tests only."""
    if not AXE.exists():
        message = f"{AXE.relative_to(REPO)} is missing: run `make vendor` (npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE.read_text()


class Session:
    """A browser context on the app, and everything it did."""

    def __init__(self, context: BrowserContext, base: str) -> None:
        self.context = context
        self.base = base
        self.requests: list[Request] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.expected_console: list[str] = []  # parts of console lines a test expects
        context.on("request", lambda request: self.requests.append(request))
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def goto(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def csp_violations(self) -> list[str]:
        violations: list[str] = self.page.evaluate("window.__cspViolations")
        refused = [line for line in self.console if "Content Security Policy" in line]
        return violations + refused


@pytest.fixture
def open_session(chromium: Browser, live_server: str) -> Iterator[Callable[..., Session]]:
    """Opens browser contexts on the app (phone-sized unless told); checks them at the end."""
    sessions: list[Session] = []

    def open_(**options: Any) -> Session:
        context = chromium.new_context(**{"viewport": PHONE, **options})
        session = Session(context, live_server)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.context.close()
    for session in sessions:
        assert not session.errors, f"uncaught errors in the page: {session.errors}"
        problems = [
            line
            for line in session.console
            if line.startswith(("error", "warning"))
            and not any(part in line for part in session.expected_console)
        ]
        assert not problems, f"console errors or warnings: {problems}"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def random_video(folder: Path, megabytes: int = 5) -> Path:
    video = folder / "clip.mp4"
    video.write_bytes(random.Random(11).randbytes(megabytes * 1024 * 1024 + 321))
    return video


def page_strings(page: Page) -> dict[str, str]:
    """The translated sentences the page gave its scripts."""
    strings: dict[str, str] = json.loads(page.text_content("#i18n-strings") or "{}")
    return strings


def choose_and_wait(page: Page, files: list[Path]) -> None:
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator("#send")).to_be_enabled(timeout=HASHING_TIMEOUT_MS)


def send_and_read_codes(page: Page) -> tuple[str, str]:
    page.click("#send")
    expect(page.locator("#step-result")).to_be_visible()
    return page.text_content("#case-number") or "", page.text_content("#case-pin") or ""


def shares_a_64_byte_run(body: bytes, blocks: set[bytes]) -> bool:
    """Whether `body` holds any 64-byte run of a file whose aligned 32-byte blocks are `blocks`.

    Any 64-byte run of a file contains a whole 32-byte block that starts at a multiple of 32
    in the file, so looking up every 32-byte window of the (small) body among the file's
    aligned blocks finds every shared 64-byte run (and some shared 32-byte ones: stricter).
    """
    return any(body[i : i + 32] in blocks for i in range(len(body) - 31))


def aligned_blocks(data: bytes) -> set[bytes]:
    return {data[i : i + 32] for i in range(0, len(data) - 31, 32)}


def test_only_the_hashes_leave_the_device_and_the_case_holds_exactly_them(
    open_session: Callable[..., Session], app: Flask, live_server: str, tmp_path: Path
) -> None:
    images = [
        PDQ_DATA / "bridge-mods__aaa-orig.jpg",
        PDQ_DATA / "dih__bridge-3-rotate-180.jpg",
        PDQ_DATA / "misc-images__modes__P.png",
        PDQ_DATA / "misc-images__small.jpg",  # quality 0: its PDQ must not be sent
    ]
    video = random_video(tmp_path)
    files = [*images, video]
    session = open_session()
    page = session.goto("/takedown/")
    choose_and_wait(page, files)
    shown = json.loads(page.text_content("#payload") or "")
    number, pin = send_and_read_codes(page)

    sent = [r for r in session.requests if r.method != "GET"]
    assert [(r.method, r.url) for r in sent] == [("POST", f"{live_server}/api/v1/takedown/cases")]
    assert json.loads(sent[0].post_data_buffer or b"") == shown
    urls = [r.url for r in session.requests]
    assert all(url.startswith(f"{live_server}/") for url in urls), urls
    # The worker's own requests are seen too (md5.js is imported by the worker only).
    assert f"{live_server}/static/takedown/hashing/md5.js" in urls
    bodies = [r.post_data_buffer for r in session.requests if r.post_data_buffer]
    assert len(bodies) == 1
    assert sum(len(b) for b in bodies) <= UPLOAD_BYTES_OVERHEAD + UPLOAD_BYTES_PER_FILE * len(files)
    for file in files:
        blocks = aligned_blocks(file.read_bytes())
        assert not any(shares_a_64_byte_run(body, blocks) for body in bodies), file.name

    expected = {("image", "md5", md5(image)) for image in images}
    expected |= {
        ("image", "pdq", REFERENCE[image.name]["pdq"])
        for image in images
        if REFERENCE[image.name]["quality"] >= 50
    }
    expected.add(("video", "md5", md5(video)))
    with app.app_context():
        session_db = get_session()
        case = store.get_case_by_number(session=session_db, number=codes.normalise(number))
        assert case is not None
        assert codes.verify_pin(case.pin_hash, pin)
        stored = store.fetch_case_hashes(session=session_db, case_id=case.id)
    assert {(h.media, h.algorithm, h.value) for h in stored} == expected
    assert len(expected) == 2 * 3 + 1 + 1
    assert session.csp_violations() == []
    assert session.context.cookies() == []


def test_a_video_sends_its_md5_and_its_video_fingerprint_and_not_a_byte_of_itself(
    open_session: Callable[..., Session],
    app: Flask,
    live_server: str,
    video_file: Callable[[str], Path],
) -> None:
    video = video_file("h264")
    session = open_session()
    page = session.goto("/takedown/")
    choose_and_wait(page, [video])
    expect(page.locator(".file-note")).to_be_empty()  # nothing to warn about
    shown = json.loads(page.text_content("#payload") or "")
    number, _ = send_and_read_codes(page)

    sent = [r for r in session.requests if r.method != "GET"]
    assert [(r.method, r.url) for r in sent] == [("POST", f"{live_server}/api/v1/takedown/cases")]
    body = sent[0].post_data_buffer or b""
    assert json.loads(body) == shown
    assert not shares_a_64_byte_run(body, aligned_blocks(video.read_bytes()))
    assert len(body) <= UPLOAD_BYTES_OVERHEAD + UPLOAD_BYTES_PER_FILE + 100 * len(reference("h264"))
    md5_hash, vpdq_hash = shown["hashes"]
    assert md5_hash == {"media": "video", "algorithm": "md5", "value": md5(video)}
    assert (vpdq_hash["media"], vpdq_hash["algorithm"]) == ("video", "vpdq")
    query, compared = match_percent(parse_signal(vpdq_hash["value"]), reference("h264"))
    assert query >= 90
    assert compared >= 90

    canonical = vpdq.canonical_signal(vpdq_hash["value"], max_frames=3600, min_quality=50)
    with app.app_context():
        session_db = get_session()
        case = store.get_case_by_number(session=session_db, number=codes.normalise(number))
        assert case is not None
        stored = store.fetch_case_hashes(session=session_db, case_id=case.id)
        features = store.fetch_hash_features(session=session_db, hash_ids=[h.id for h in stored])
    assert {(h.media, h.algorithm, h.value) for h in stored} == {
        ("video", "md5", md5(video)),
        ("video", "vpdq", vpdq.digest(canonical)),
    }
    assert list(features.values()) == [canonical]
    assert session.csp_violations() == []


def black_video(folder: Path) -> Path:
    """Two seconds of black: every frame has PDQ quality 0."""
    path = folder / "black.mp4"
    lavfi = "color=black:size=320x240:rate=25"
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", lavfi, "-t", "2", *X264, str(path)], check=True)
    return path


@pytest.mark.parametrize(
    ("video", "settings_overrides", "note"),
    [
        ("black", {}, "video_weak"),
        ("h264", {"vpdq_max_frames": 5}, "video_too_long"),
    ],
)
def test_a_video_whose_fingerprint_would_not_help_is_sent_by_its_md5_with_a_note(
    open_session: Callable[..., Session],
    video_file: Callable[[str], Path],
    tmp_path: Path,
    video: str,
    note: str,
) -> None:
    path = black_video(tmp_path) if video == "black" else video_file(video)
    session = open_session()
    page = session.goto("/takedown/")
    strings = page_strings(page)
    choose_and_wait(page, [path])
    expect(page.locator(".file-note")).to_have_text(strings[note])
    shown = json.loads(page.text_content("#payload") or "")
    assert shown == {"hashes": [{"media": "video", "algorithm": "md5", "value": md5(path)}]}


@pytest.mark.parametrize("settings_overrides", [{"case_max_vpdq_bytes": 1024}])
def test_videos_whose_fingerprints_are_too_long_for_one_case_wait_with_a_message(
    open_session: Callable[..., Session], video_file: Callable[[str], Path]
) -> None:
    session = open_session()
    page = session.goto("/takedown/")
    strings = page_strings(page)
    page.set_input_files("#files", [str(video_file("h264")), str(video_file("vp8"))])
    expect(page.locator("#send-error")).to_have_text(strings["too_much_video"], timeout=60_000)
    expect(page.locator("#review-status")).to_have_text(strings["ready_all"])
    expect(page.locator("#send")).to_be_disabled()
    page.locator(".file .remove").first.click()
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#send-error")).to_be_empty()


def slow_video(folder: Path) -> Path:
    """40 s of 1080p at one frame a second: every frame is hashed, so it takes a while."""
    path = folder / "slow.mp4"
    lavfi = "testsrc2=size=1920x1080:rate=1"
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", lavfi, "-t", "40", *X264, str(path)], check=True)
    return path


def test_cancel_stops_fingerprinting_a_long_video(
    open_session: Callable[..., Session], video_file: Callable[[str], Path], tmp_path: Path
) -> None:
    video = slow_video(tmp_path)
    session = open_session()
    page = session.goto("/takedown/")
    strings = page_strings(page)
    page.set_input_files("#files", [str(video)])
    cancel = page.locator(".file .remove")
    expect(cancel).to_have_text(strings["cancel"])
    expect(cancel).to_have_attribute("aria-label", f"Stop fingerprinting {video.name}")
    page.wait_for_function("() => document.querySelector('.file progress').value > 0.15")
    assert len(page.workers) == 1
    cancel.click()
    expect(page.locator(".file")).to_have_count(0)
    page.wait_for_function("() => true")
    page.wait_for_timeout(300)
    assert page.workers == []  # the worker was stopped, not left to finish
    expect(page.locator("#step-review")).to_be_hidden()
    expect(page.locator("#files")).to_be_focused()
    assert [r for r in session.requests if r.method != "GET"] == []


def run_axe(page: Page, axe_source: str) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it is now."""
    page.evaluate(axe_source)  # via DevTools: the page's CSP does not apply to it
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {
              runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
              resultTypes: ["violations"],
            })).violations"""
    )
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def check_step(page: Page, axe_source: str, lang: str, number: int, step: str) -> None:
    """Every step: no horizontal overflow on a 360 px phone, no serious accessibility
    problem; with HAVEN_SCREENSHOTS=1, a screenshot for docs/screenshots/."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{lang} {step}: the page is {width} px wide"
    assert run_axe(page, axe_source) == [], f"{lang} {step}"
    if os.environ.get("HAVEN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"takedown-{lang}-{number}-{step}.png"
        page.evaluate("document.activeElement?.blur()")
        if step == "review":  # the list and the exact request body; the rest is above it
            page.locator("#step-review").screenshot(path=path, animations="disabled")
        elif step == "help":
            page.locator("#help").screenshot(path=path, animations="disabled")
        else:
            page.screenshot(path=path, full_page=True, animations="disabled")


WHOLE_FLOW = {
    "en": {},
    "es-by-accept-language": {"locale": "es-ES"},
    "ar-by-picker": {},
}


@pytest.mark.parametrize("variant", WHOLE_FLOW)
def test_the_whole_flow_works_in_english_spanish_and_arabic(
    open_session: Callable[..., Session], axe_source: str, tmp_path: Path, variant: str
) -> None:
    lang = variant.split("-")[0]
    session = open_session(permissions=["clipboard-read", "clipboard-write"], **WHOLE_FLOW[variant])
    page = session.goto("/takedown/")
    if variant.endswith("picker"):
        page.click("details.language-picker summary")
        page.click(f'.language-list a[hreflang="{lang}"]')
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", ALL[lang].direction)
    strings = page_strings(page)
    check_step(page, axe_source, lang, 1, "intro")

    files = [PDQ_DATA / "bridge-mods__aaa-orig.jpg", PDQ_DATA / "misc-images__small.jpg"]
    choose_and_wait(page, [*files, random_video(tmp_path, megabytes=1)])
    expect(page.locator(".file")).to_have_count(3)
    expect(page.locator(".file-note").nth(1)).to_have_text(strings["weak"])
    expect(page.locator("#review-status")).to_have_text(strings["ready_all"])
    check_step(page, axe_source, lang, 2, "review")

    number, pin = send_and_read_codes(page)
    assert codes.is_valid_case_number(codes.normalise(number))
    assert len(codes.normalise(pin)) == codes.PIN_LENGTH
    expect(page.locator("#result-title")).to_be_focused()
    check_step(page, axe_source, lang, 3, "result")

    page.click("#copy")
    expect(page.locator("#action-status")).to_have_text(strings["copied"])
    copied = page.evaluate("navigator.clipboard.readText()")
    with page.expect_download() as download:
        page.click("#save")
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == f"haven-case-{number}.txt"
    assert copied == saved
    for line in (number, pin, strings["status_url"], strings["file_private"]):
        assert line in saved
    page.emulate_media(media="print")
    expect(page.locator("#case-pin")).to_be_visible()
    expect(page.locator(".status-address")).to_be_visible()
    for elsewhere in ("h1", "#copy", ".notice-warning", ".site-header"):
        expect(page.locator(elsewhere)).not_to_be_visible()
    page.emulate_media(media="screen")

    page.click("#step-result a.button")
    expect(page.locator("#lookup")).to_be_visible()
    strings = page_strings(page)
    page.fill("#case-number", number.lower().replace("-", " "))
    page.fill("#pin", "AAAAA-AAAAA")
    session.expected_console.append("status of 404")  # the wrong PIN's answer
    page.click("#lookup button[type=submit]")
    expect(page.locator("#lookup-error")).to_have_text(strings["case_not_found"])
    expect(page.locator("#case")).to_be_hidden()
    page.fill("#pin", pin)
    page.click("#lookup button[type=submit]")
    expect(page.locator("#case")).to_be_visible()
    expect(page.locator("#lookup-error")).to_be_empty()
    expect(page.locator("#case-state")).to_have_text(strings["active"])
    expect(page.locator("#fact-hashes")).to_have_text("4")
    check_step(page, axe_source, lang, 4, "status")

    page.click("#withdraw-start")
    expect(page.locator("#withdraw-question")).to_be_focused()
    page.click("#withdraw-yes")
    expect(page.locator("#case-state")).to_have_text(strings["withdrawn"])
    expect(page.locator("#case-announce")).to_have_text(strings["withdrawn_now"])
    expect(page.locator("#withdraw")).to_be_hidden()
    expect(page.locator("#fact-withdrawn-row")).to_be_visible()

    # Help, one tap from the top of the page, with the bundled country open.
    page.click("#help > summary")
    expect(page.locator("#help .help-country[open] a[href^='tel:']").first).to_be_visible()
    check_step(page, axe_source, lang, 5, "help")

    assert session.csp_violations() == []
    cookies = {cookie["name"]: cookie["value"] for cookie in session.context.cookies()}
    assert cookies == ({"lang": lang} if variant.endswith("picker") else {})


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(node) => node === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def outline_of(page: Page, selector: str) -> str:
    style: str = page.locator(selector).evaluate(
        "(node) => `${getComputedStyle(node).outlineStyle} ${getComputedStyle(node).outlineWidth}`"
    )
    return style


def test_the_whole_flow_works_by_keyboard_alone(
    open_session: Callable[..., Session], tmp_path: Path
) -> None:
    session = open_session(permissions=["clipboard-read", "clipboard-write"])
    page = session.goto("/takedown/")
    strings = page_strings(page)
    tab_to(page, "#files")
    assert outline_of(page, "#choose-label") == "solid 3px"  # the focus shows on its label
    with page.expect_file_chooser() as chooser:
        # Space, as on any button. (Enter opens Chromium's chooser too, but under Playwright's
        # file-chooser interception it is missed about one time in three.)
        page.keyboard.press("Space")
    chooser.value.set_files(
        [str(PDQ_DATA / "bridge-mods__aaa-orig.jpg"), str(random_video(tmp_path, 1))]
    )
    expect(page.locator("#review-title")).to_be_focused()
    expect(page.locator("#send")).to_be_enabled(timeout=HASHING_TIMEOUT_MS)
    tab_to(page, "#send")
    assert outline_of(page, "#send") == "solid 3px"
    page.keyboard.press("Enter")
    expect(page.locator("#result-title")).to_be_focused()
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""
    tab_to(page, "#copy")
    page.keyboard.press("Space")
    expect(page.locator("#action-status")).to_have_text(strings["copied"])
    tab_to(page, "#step-result a.button")
    page.keyboard.press("Enter")

    expect(page.locator("#lookup")).to_be_visible()
    strings = page_strings(page)
    tab_to(page, "#case-number")
    page.keyboard.type(number)
    page.keyboard.press("Tab")
    expect(page.locator("#pin")).to_be_focused()
    page.keyboard.type(pin)
    page.keyboard.press("Enter")
    expect(page.locator("#case-title")).to_be_focused()
    tab_to(page, "#withdraw-start")
    page.keyboard.press("Enter")
    expect(page.locator("#withdraw-question")).to_be_focused()
    tab_to(page, "#withdraw-no")
    page.keyboard.press("Enter")  # changed their mind: nothing happens
    expect(page.locator("#withdraw-start")).to_be_focused()
    expect(page.locator("#case-state")).to_have_text(strings["active"])
    page.keyboard.press("Enter")
    tab_to(page, "#withdraw-yes")
    page.keyboard.press("Space")
    expect(page.locator("#case-state")).to_have_text(strings["withdrawn"])
    assert session.context.cookies() == []


@pytest.mark.parametrize("path", ["/takedown/", "/takedown/status"])
def test_without_javascript_the_page_says_that_it_needs_it_and_why(
    open_session: Callable[..., Session], path: str
) -> None:
    session = open_session(java_script_enabled=False)
    page = session.goto(path)
    expect(page.locator(".js-needed h2")).to_be_visible()
    expect(page.locator(".js-needed")).to_contain_text("JavaScript")
    expect(page.locator("#app, #lookup").first).to_be_hidden()
    if path == "/takedown/":
        expect(page.locator(".never-sees")).to_be_visible()
        expect(page.locator(".js-needed")).to_contain_text("never have to be uploaded")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert session.context.cookies() == []


def test_a_file_that_is_not_a_picture_is_left_out_kindly(
    open_session: Callable[..., Session], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    session = open_session()
    page = session.goto("/takedown/")
    strings = page_strings(page)
    choose_and_wait(page, [notes, PDQ_DATA / "misc-images__wee.jpg"])
    expect(page.locator(".file-problem .file-note")).to_have_text(strings["unsupported"])
    shown = json.loads(page.text_content("#payload") or "")
    assert {h["media"] for h in shown["hashes"]} == {"image"}
    assert len(shown["hashes"]) == 2
    page.click(".file-problem .remove")
    expect(page.locator(".file")).to_have_count(1)
