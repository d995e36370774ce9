"""The Take It Down pages as the server sends them: languages, the picker, headers, privacy.

The pages read nothing from the database, so these tests run on SQLite only.
"""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from haven.i18n import LANGUAGES
from haven.privacy import ANONYMOUS_BLUEPRINTS
from haven.security import JSON_CSP, PAGE_CSP, WORKER_CSP
from tests.browser import CSP as HASHING_PAGE_CSP
from tests.browser import WORKER_CSP as HASHING_WORKER_CSP

REPO = Path(__file__).resolve().parents[2]
PAGES = (
    "/takedown/",
    "/takedown/status",
    "/takedown/faq",
    "/takedown/privacy",
    "/takedown/platforms",
)
# The scripts of each page (the pages about the service have none).
SCRIPTS = {"/takedown/": ["flow.js"], "/takedown/status": ["status.js"]}
ADDRESS = "10.44.33.22"
# The pages read nothing from the database: one backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class _Document(HTMLParser):
    """The parts of a page these tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.style_attributes: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self._data_block: list[str] | None = None
        self.data_blocks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.html_attrs = attributes
        if tag == "script":
            self.scripts.append(attributes)
            if attributes.get("type") == "application/json":
                self._data_block = []
        if tag == "a":
            self.links.append(attributes)
        self.inline_handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if "style" in attributes:
            self.style_attributes.append(tag)

    def handle_data(self, data: str) -> None:
        if self._data_block is not None:
            self._data_block.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._data_block is not None:
            self.data_blocks.append("".join(self._data_block))
            self._data_block = None


def parse(html: str) -> _Document:
    document = _Document()
    document.feed(html)
    return document


def page_strings(client: FlaskClient, path: str) -> dict[str, str]:
    document = parse(client.get(path).get_data(as_text=True))
    (block,) = document.data_blocks
    strings: dict[str, str] = json.loads(block)
    return strings


# Each page in each language, with its lang, direction and heading: test_info_pages.py.


@pytest.mark.parametrize(
    ("accept_language", "lang", "direction"),
    [
        ("es-ES,es;q=0.9", "es", "ltr"),
        ("ar-SA, en;q=0.4", "ar", "rtl"),
        ("ur-PK", "ur", "rtl"),
        ("ckb", "ckb", "rtl"),
        ("fil-PH", "tl", "ltr"),
        ("fa-IR", "fa", "rtl"),
        ("sw-KE, xx", "sw", "ltr"),
        ("yo-NG, xx", "en", "ltr"),
        ("", "en", "ltr"),
    ],
)
def test_the_browsers_languages_choose_the_page_language(
    client: FlaskClient, accept_language: str, lang: str, direction: str
) -> None:
    response = client.get("/takedown/", headers={"Accept-Language": accept_language})
    assert parse(response.get_data(as_text=True)).html_attrs == {"lang": lang, "dir": direction}


def test_an_unknown_language_cookie_is_ignored(client: FlaskClient) -> None:
    client.set_cookie("lang", "xx")
    page = client.get("/takedown/", headers={"Accept-Language": "de"})
    assert parse(page.get_data(as_text=True)).html_attrs["lang"] == "de"
    client.set_cookie("lang", "../../etc")
    assert parse(client.get("/takedown/").get_data(as_text=True)).html_attrs["lang"] == "en"


def test_the_picker_lists_every_language_in_itself_and_comes_back_to_the_page(
    client: FlaskClient,
) -> None:
    document = parse(client.get("/takedown/status").get_data(as_text=True))
    picker = [link for link in document.links if (link.get("href") or "").startswith("/lang/")]
    assert [link["hreflang"] for link in picker] == list(LANGUAGES)
    assert all(link["href"] == f"/lang/{link['lang']}?next=/takedown/status" for link in picker)
    html = client.get("/takedown/").get_data(as_text=True)
    for name in ("English", "Español", "العربية", "Filipino", "中文", "کوردیی ناوەندی"):
        assert f">{name}</a>" in html


@pytest.mark.parametrize("code", ["ar", "tl", "zh"])
def test_the_picker_sets_only_the_lang_cookie_and_goes_back(client: FlaskClient, code: str) -> None:
    response = client.get(f"/lang/{code}?next=/takedown/status")
    assert response.status_code == 303
    assert response.headers["Location"] == "/takedown/status"
    (cookie,) = response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"lang={code};")
    assert {"httponly", "max-age", "path"} <= attributes
    assert "Max-Age=31536000" in cookie
    assert "SameSite=Lax" in cookie
    page = client.get("/takedown/status")
    assert parse(page.get_data(as_text=True)).html_attrs["lang"] == code
    assert "Set-Cookie" not in page.headers


def test_the_picker_keeps_the_pages_query_so_the_chosen_country_stays(
    client: FlaskClient,
) -> None:
    document = parse(client.get("/takedown/status?country=GB").get_data(as_text=True))
    picker = [link for link in document.links if (link.get("href") or "").startswith("/lang/")]
    href = next(link["href"] for link in picker if link["lang"] == "es")
    assert href is not None
    response = client.get(href)
    assert response.status_code == 303
    assert response.headers["Location"] == "/takedown/status?country=GB"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "//evil.example/takedown/?country=US",
        "https://evil.example/takedown/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/\t/evil.example",
        "",
    ],
)
def test_the_picker_never_sends_anyone_to_another_site(client: FlaskClient, target: str) -> None:
    response = client.get("/lang/es", query_string={"next": target})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/"


def test_the_picker_sets_no_cookie_for_a_language_haven_does_not_have(
    client: FlaskClient,
) -> None:
    response = client.get("/lang/xx?next=/takedown/")
    assert response.status_code == 303
    assert "Set-Cookie" not in response.headers


def test_the_front_page_leads_to_take_it_down(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200  # it offers AMBER alerts too (tests/haven/test_home.py)
    assert 'href="/takedown/"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_with_the_strict_policy_and_security_headers(
    client: FlaskClient, path: str
) -> None:
    headers = client.get(path).headers
    assert headers["Content-Security-Policy"] == PAGE_CSP
    # The policy the hashing code was built and tested against is part of it.
    assert PAGE_CSP.startswith(HASHING_PAGE_CSP + ";")
    assert "frame-ancestors 'none'" in PAGE_CSP
    assert "unsafe" not in PAGE_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Cache-Control"] == "no-store"


def test_the_hashing_worker_gets_its_own_policy_and_a_javascript_type(
    client: FlaskClient,
) -> None:
    worker = client.get("/static/takedown/hashing/worker.js")
    assert worker.status_code == 200
    assert worker.headers["Content-Security-Policy"] == WORKER_CSP == HASHING_WORKER_CSP
    assert worker.mimetype == "text/javascript"
    for script in ("flow.js", "status.js", "hashing/hasher.js", "hashing/md5.js"):
        response = client.get(f"/static/takedown/{script}")
        assert response.mimetype == "text/javascript"
        assert response.headers["Content-Security-Policy"] == PAGE_CSP


def test_json_responses_get_a_policy_that_allows_nothing(client: FlaskClient) -> None:
    for response in (client.get("/api/openapi.json"), client.post("/api/v1/takedown/cases")):
        assert response.is_json
        assert response.headers["Content-Security-Policy"] == JSON_CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("code", ["en", "ar"])
@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_handler_or_style(
    client: FlaskClient, path: str, code: str
) -> None:
    client.set_cookie("lang", code)
    document = parse(client.get(path).get_data(as_text=True))
    inline = [
        s for s in document.scripts if not s.get("src") and s.get("type") != "application/json"
    ]
    assert not inline
    assert [s["src"] for s in document.scripts if s.get("src")] == [
        f"/static/takedown/{script}" for script in SCRIPTS.get(path, [])
    ]
    assert all(s.get("type") == "module" for s in document.scripts if s.get("src"))
    assert not document.inline_handlers
    assert not document.style_attributes
    # Off-site links: only the help's resources (templates/takedown/_help.html).
    off_site = [link for link in document.links if "//" in (link.get("href") or "")]
    assert off_site
    assert all("help-contact" in (link.get("class") or "") for link in off_site)


def _keys_used_by(script: str) -> set[str]:
    source = (REPO / "static" / "takedown" / script).read_text()
    return set(re.findall(r"\bt\(\s*\"(\w+)\"", source))


def test_every_sentence_the_scripts_show_is_translated_on_their_page(client: FlaskClient) -> None:
    flow = page_strings(client, "/takedown/")
    status = page_strings(client, "/takedown/status")
    error_codes = {
        "case_not_found",
        "case_number_mistyped",
        "wait_to_retry",
        "rate_limited",
        "network",
        "internal",
    }
    assert _keys_used_by("flow.js") | {"photo", "video", "other"} | error_codes <= set(flow)
    assert _keys_used_by("status.js") | error_codes <= set(status)
    assert "invalid" in flow  # a refused submission
    assert all(isinstance(value, str) and value for value in [*flow.values(), *status.values()])


def test_the_codes_point_to_the_status_page_at_the_public_address(
    client: FlaskClient, app: Flask
) -> None:
    strings = page_strings(client, "/takedown/")
    public = app.extensions["haven.settings"].public_url.rstrip("/")
    assert strings["status_url"] == f"{public}/takedown/status"
    assert strings["file_status"] == "Check progress or withdraw at: %(url)s"


def test_without_javascript_the_page_still_explains_itself_and_says_why_it_needs_it(
    client: FlaskClient,
) -> None:
    html = client.get("/takedown/").get_data(as_text=True)
    # The explanation follows #app (hidden without JavaScript), outside it, in #intro-more;
    # test_page_flow_browser.py checks that a browser without JavaScript shows it.
    before_app, rest = html.split('<div id="app"', 1)
    assert 'class="lead"' in before_app
    explanation = rest.split('<div id="intro-more">', 1)[1]
    assert "What Haven never sees" in explanation
    assert "How it works" in explanation
    noscript = re.search(r"<noscript>(.*?)</noscript>", html, re.S)
    assert noscript
    assert "never have to be uploaded" in noscript.group(1)


def test_the_pages_are_anonymous_and_log_no_address(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert {"takedown_pages", "i18n"} <= ANONYMOUS_BLUEPRINTS
    with caplog.at_level(logging.INFO, logger="haven.access"):
        for path in (*PAGES, "/", "/lang/es?next=/takedown/"):
            response = client.get(path, environ_base={"REMOTE_ADDR": ADDRESS})
            cookies = response.headers.getlist("Set-Cookie")
            assert all(cookie.startswith("lang=") for cookie in cookies)
    assert "/takedown/" in caplog.text
    assert ADDRESS not in caplog.text


def test_behind_https_the_language_cookie_is_secure_and_browsers_are_told_to_stay(
    database_url: str,
) -> None:
    from haven.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url, public_url="https://haven.example.org"))
    client = app.test_client()
    assert "Secure" in client.get("/lang/es?next=/takedown/").headers["Set-Cookie"]
    assert client.get("/takedown/").headers["Strict-Transport-Security"] == "max-age=31536000"
