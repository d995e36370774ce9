"""The help on every takedown page, as the server sends it: the data file, the countries, the
languages, and an operator's file that is wrong.

The pages read nothing from the database, so these tests run on SQLite only. The browser side
(one tap from every step, no overflow) is in test_help_browser.py.
"""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
from babel import Locale
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import gettext
from pydantic import ValidationError

from haven.app import create_app
from haven.cli import load_settings
from haven.i18n import ALL, COOKIE
from haven.languages import LANGUAGES
from haven.settings import describe_errors
from takedown.help import BUNDLED_FILE, BUNDLED_MESSAGES, HelpFileError, help_view, load_help
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
# The pages read nothing from the database: one backend is enough.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# A country of an operator's own, which the bundled file does not have.
CHILDLINE = """[[countries.GB]]
name = "Childline"
text = "Talk to someone about anything."
url = "https://www.childline.org.uk/"
phone = "08001111"
phone_label = "0800 1111"
"""
# A bundled text, kept in an operator's file.
CYBERTIPLINE = next(m for m in BUNDLED_MESSAGES if m.startswith("Report someone who"))
OPERATOR_FILE = f"""
default_country = "GB"

[[international]]
name = "Anywhere line"
text = "An operator's text, in no catalog."
url = "https://help.example.org/"

{CHILDLINE}
[[countries.US]]
name = "CyberTipline"
text = "{CYBERTIPLINE}"
url = "https://report.cybertip.org"
"""


class _Help(HTMLParser):
    """The help section of a page: where it is, what it holds, and which country is open."""

    def __init__(self) -> None:
        super().__init__()
        self.main_first_tag: tuple[str, dict[str, str | None]] | None = None
        self._in_main = False
        self.help_attrs: dict[str, str | None] | None = None
        self._depth = 0  # <details> nesting inside the help
        self._text: list[str] | None = None
        self.summary = ""
        self.links: list[str] = []
        self.countries: dict[str, bool] = {}  # code -> open
        self.alerts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "main":
            self._in_main = True
            return
        if self._in_main and self.main_first_tag is None:
            self.main_first_tag = (tag, attributes)
        if tag == "details" and attributes.get("id") == "help":
            self.help_attrs = attributes
            self._depth = 1
            return
        if not self._depth:
            return
        if tag == "details":
            self._depth += 1
            self.countries[attributes.get("data-country") or ""] = "open" in attributes
        if tag == "summary" and self._depth == 1:
            self._text = []
        if tag == "a":
            self.links.append(attributes.get("href") or "")
        if attributes.get("role") == "alert":
            self.alerts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "summary" and self._text is not None:
            self.summary = "".join(self._text).strip()
            self._text = None
        if tag == "details" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._depth:
            self.text.append(data)

    @property
    def is_open(self) -> bool:
        return self.help_attrs is not None and "open" in self.help_attrs

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def help_of(html: str) -> _Help:
    parsed = _Help()
    parsed.feed(html)
    return parsed


def takedown_pages(app: Flask) -> list[str]:
    """Every page of the takedown blueprint (those other work adds too)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("takedown_pages.")
        and "GET" in (rule.methods or ())
        and not rule.arguments
    )


def translated(app: Flask, code: str, message: str) -> str:
    with app.test_request_context(headers={"Cookie": f"{COOKIE}={code}"}):
        text: str = gettext(message)
    return text


def bundled_texts() -> list[str]:
    data = tomllib.loads(BUNDLED_FILE.read_text())
    resources = [*data["international"], *(r for rs in data["countries"].values() for r in rs)]
    return [resource[key] for resource in resources for key in ("name", "text")]


def test_the_bundled_file_is_valid_and_each_of_its_texts_is_in_the_catalogs() -> None:
    data = load_help()
    assert data.default_country == "US"
    english = {Locale("en").territories[code] for code in data.countries}
    assert set(BUNDLED_MESSAGES) == set(bundled_texts()) | english
    with (REPO / "translations" / "messages.pot").open("rb") as file:
        catalog = read_po(file)
    assert [m for m in BUNDLED_MESSAGES if m not in catalog] == []


def test_every_text_goes_through_the_catalog_and_numbers_and_addresses_do_not() -> None:
    """`translate` is gettext on the page; here it marks what it was given."""
    view = help_view(
        load_help(), asked_country=None, locale=Locale("ht"), translate=lambda s: f"«{s}»"
    )
    (us,) = view.countries
    assert us.name == "«United States»"  # CLDR has no country names in Haitian Creole
    shown = [*us.resources, *view.international]
    assert [r.name for r in shown] == [
        "«CyberTipline»",
        "«988 Suicide & Crisis Lifeline»",
        "«INHOPE hotlines»",
        "«StopNCII.org»",
    ]
    assert all(r.text.startswith("«") and r.text.endswith("»") for r in shown)
    assert [(c.kind, c.href, c.label) for c in us.resources[1].contacts] == [
        ("call", "tel:988", "988"),
        ("text", "sms:988", "988"),
        ("web", "https://988lifeline.org", "988lifeline.org"),
    ]


@SQLITE
def test_the_bundled_help_names_every_resource_the_family_needs(app: Flask) -> None:
    """The US and anywhere: CyberTipline, a crisis line, StopNCII for adults, INHOPE; what to
    do when threatened; AI-made pictures count."""
    html = app.test_client().get("/takedown/").get_data(as_text=True)
    help_ = help_of(html)
    assert help_.countries == {"US": True}
    for href in (
        "tel:+18008435678",
        "https://report.cybertip.org",
        "tel:988",
        "sms:988",
        "https://stopncii.org",
        "https://www.inhope.org/EN#hotlineReferral",
    ):
        assert href in help_.links
    for sentence in (
        "1-800-843-5678 (1-800-THE-LOST)",
        "Don't pay",
        "Keep the messages",
        "Block them, but don't delete",
        "Tell an adult you trust",
        "18 or older",
        "Pictures made or changed with AI count too.",
    ):
        assert sentence in help_.all_text


@SQLITE
def test_phone_numbers_are_tel_links_and_text_numbers_sms_links(app: Flask) -> None:
    help_ = help_of(app.test_client().get("/takedown/status").get_data(as_text=True))
    numbers = [link for link in help_.links if link.startswith(("tel:", "sms:"))]
    assert numbers
    assert all(re.fullmatch(r"(tel|sms):\+?[0-9]+", link) for link in numbers)


@SQLITE
@pytest.mark.parametrize("code", LANGUAGES)
def test_every_takedown_page_opens_with_the_help_in_every_language(app: Flask, code: str) -> None:
    client = app.test_client()
    client.set_cookie(COOKIE, code)
    pages = takedown_pages(app)
    assert {"/takedown/", "/takedown/status"} <= set(pages)
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        help_ = help_of(response.get_data(as_text=True))
        # First in <main>, right under the header: one tap on its summary opens it.
        assert help_.main_first_tag == ("details", help_.help_attrs), path
        assert help_.summary == translated(app, code, "Get help now"), path
        for message in [*bundled_texts(), "Pictures made or changed with AI count too."]:
            assert translated(app, code, message) in help_.all_text, path
        locale = Locale.parse(ALL[code].catalog)
        assert help_.countries == {"US": True}, path
        us = locale.territories.get("US") or translated(app, code, "United States")
        assert us in help_.all_text, path


@SQLITE
def test_the_country_the_person_picks_is_the_one_open(app: Flask, tmp_path: Path) -> None:
    operator = tmp_path / "help.toml"
    operator.write_text(OPERATOR_FILE)
    settings = make_settings(app.extensions["haven.settings"].database_url, help_file=operator)
    client = create_app(settings).test_client()
    default = help_of(client.get("/takedown/").get_data(as_text=True))
    assert default.countries == {"GB": True, "US": False}
    assert not default.is_open
    picked = help_of(client.get("/takedown/?country=US").get_data(as_text=True))
    assert picked.countries == {"GB": False, "US": True}
    assert picked.is_open  # asked: shown at once
    assert picked.alerts == 0
    lower = help_of(client.get("/takedown/status?country=gb").get_data(as_text=True))
    assert lower.countries == {"GB": True, "US": False}
    # An operator's own text is shown as written, in every language; country names in the
    # page's language.
    client.set_cookie(COOKIE, "es")
    spanish = help_of(client.get("/takedown/?country=GB").get_data(as_text=True))
    assert "An operator's text, in no catalog." in spanish.all_text
    assert "tel:08001111" in spanish.links
    assert "https://report.cybertip.org" in spanish.links
    # ... while a bundled text the operator kept is still translated.
    kept = tomllib.loads(OPERATOR_FILE)["countries"]["US"][0]["text"]
    assert kept in BUNDLED_MESSAGES
    assert translated(app, "es", kept) in spanish.all_text
    assert "Reino Unido" in spanish.all_text
    assert "Estados Unidos" in spanish.all_text


@SQLITE
@pytest.mark.parametrize("value", ["ZZ", "XX", "<script>alert(1)</script>", "", "united states"])
def test_an_unknown_country_says_so_opens_none_and_changes_nothing(app: Flask, value: str) -> None:
    client = app.test_client()
    response = client.get("/takedown/", query_string={"country": value})
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []
    html = response.get_data(as_text=True)
    help_ = help_of(html)
    assert help_.is_open
    assert help_.countries == {"US": False}  # the list, none chosen
    assert help_.alerts == 1
    assert "We don't have a list of help for that country." in help_.all_text
    assert "<script>alert(1)" not in html
    # Nothing was kept: the next page is as before.
    assert help_of(client.get("/takedown/").get_data(as_text=True)).countries == {"US": True}


@SQLITE
def test_the_country_is_never_guessed_from_the_address_or_headers(app: Flask) -> None:
    client = app.test_client()
    plain = client.get("/takedown/").get_data(as_text=True)
    for environ, headers in [
        ({"REMOTE_ADDR": "81.2.69.160"}, {}),  # a UK address
        ({"REMOTE_ADDR": "10.1.2.3"}, {"X-Forwarded-For": "2.16.0.1", "CF-IPCountry": "FR"}),
        ({}, {"X-Country-Code": "GB", "X-Real-IP": "81.2.69.160"}),
    ]:
        response = client.get("/takedown/", environ_base=environ, headers=headers)
        assert response.get_data(as_text=True) == plain


BAD_FILES = {
    "not TOML": ("[[countries.US]\nname = 1", "not valid TOML"),
    "unknown country": (
        '[[countries.XX]]\nname = "A"\ntext = "B"\nurl = "https://a.example"',
        "'XX' is not an ISO 3166 country code",
    ),
    "phone with letters": (
        '[[countries.US]]\nname = "A"\ntext = "B"\nphone = "1-800-THE-LOST"',
        "countries.US.0.phone",
    ),
    "script link": (
        '[[international]]\nname = "A"\ntext = "B"\nurl = "javascript:alert(1)"',
        "is not a web address",
    ),
    "typo in a key": (
        '[[international]]\nname = "A"\ntext = "B"\nulr = "https://a.example"',
        "international.0.ulr: Extra inputs are not permitted",
    ),
    "default not listed": (
        'default_country = "CA"\n[[international]]\nname = "A"\ntext = "B"\nsms = "988"',
        "default_country 'CA' has no [[countries.CA]] resources",
    ),
    "no way to reach it": ('[[international]]\nname = "A"\ntext = "B"', "at least one of url"),
    "empty": ("", "no resources at all"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_an_operator_file_with_a_mistake_stops_start_up_saying_where_and_what(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, expected = BAD_FILES[case]
    path = tmp_path / "help.toml"
    path.write_text(content)
    with pytest.raises(HelpFileError) as loaded:
        load_help(path)
    assert str(loaded.value).startswith(f"{path}: ")
    assert expected in str(loaded.value)
    # Settings refuse it, so `haven serve` (and every command) stops before starting.
    with pytest.raises(ValidationError) as invalid:
        make_settings("sqlite://", help_file=path)
    assert describe_errors(invalid.value) == [f"HAVEN_HELP_FILE: {loaded.value}"]
    monkeypatch.setenv("HAVEN_HELP_FILE", str(path))
    with pytest.raises(click.ClickException) as stopped:
        load_settings()
    assert stopped.value.message == (
        f"invalid settings, not starting:\nHAVEN_HELP_FILE: {loaded.value}"
    )


def test_a_missing_operator_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="can't read it"):
        make_settings("sqlite://", help_file=tmp_path / "nowhere.toml")
