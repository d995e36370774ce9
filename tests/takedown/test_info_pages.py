"""The takedown pages about the service: questions and answers, the privacy notice, the
participating platforms, the footer naming who runs Haven, and what the pages call the service."""

from __future__ import annotations

import functools

import lxml.html
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from pydantic import ValidationError

from haven.cli import main
from haven.db import get_session, write
from haven.i18n import ALL, CATALOG_LOCALES, LANGUAGES
from haven.settings import PROJECT_ROOT, Settings, describe_errors
from takedown import store
from takedown.service import add_platform, revoke_platform
from tests.conftest import make_settings
from tests.factories import create_platform

INFO_PAGES = ("/takedown/faq", "/takedown/privacy", "/takedown/platforms")
TAKEDOWN_PAGES = ("/takedown/", "/takedown/status", *INFO_PAGES)
NEUTRAL_NAME = "Stop nude images of you spreading"
OPERATOR = {
    "operator_name": "Example Child Safety Trust",
    "operator_url": "https://trust.example.org/about",
    "operator_contact": "help@trust.example.org",
}
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@functools.cache
def _catalog(code: str) -> Catalog:
    path = PROJECT_ROOT / "translations" / CATALOG_LOCALES.get(code, code)
    with (path / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        return read_po(stream)


def translation(code: str, msgid: str) -> str:
    """The catalog's translation of `msgid` into language `code` ("" while untranslated)."""
    return str(_catalog(code)[msgid].string)


def document(client: FlaskClient, path: str) -> lxml.html.HtmlElement:
    response = client.get(path)
    assert response.status_code == 200, path
    return lxml.html.fromstring(response.get_data(as_text=True))


def text_of(page: lxml.html.HtmlElement, xpath: str) -> str:
    return " ".join(" ".join(e.text_content().split()) for e in page.xpath(xpath))


@sqlite_only
@pytest.mark.parametrize("code", LANGUAGES)
@pytest.mark.parametrize("path", TAKEDOWN_PAGES)
def test_each_takedown_page_renders_in_each_language_with_its_direction_and_heading(
    client: FlaskClient, path: str, code: str
) -> None:
    client.set_cookie("lang", code)
    page = document(client, path)
    assert (page.get("lang"), page.get("dir")) == (code, ALL[code].direction)
    heading = {
        "/takedown/": NEUTRAL_NAME,
        "/takedown/status": "Check or withdraw a case",
        "/takedown/faq": "Questions and answers",
        "/takedown/privacy": "Privacy notice",
        "/takedown/platforms": "Participating platforms",
    }[path]
    # Until its translators fill it in, a language shows the English (test_i18n.py checks
    # that every catalog is complete).
    assert text_of(page, "//h1") == (translation(code, heading) or heading)


@sqlite_only
@pytest.mark.parametrize("path", TAKEDOWN_PAGES)
def test_every_takedown_page_links_to_the_faq_the_privacy_notice_and_the_platforms(
    client: FlaskClient, path: str
) -> None:
    links = document(client, path).xpath("//footer//a/@href")
    assert {"/takedown/faq", "/takedown/privacy", "/takedown/platforms"} <= set(links)


@sqlite_only
@pytest.mark.parametrize("settings_overrides", [OPERATOR])
@pytest.mark.parametrize("path", TAKEDOWN_PAGES)
def test_the_operator_is_named_with_its_address_and_contact_in_every_footer(
    client: FlaskClient, path: str
) -> None:
    page = document(client, path)
    footer = text_of(page, "//footer")
    assert "This service is run by Example Child Safety Trust." in footer
    assert "Contact: help@trust.example.org" in footer
    assert page.xpath("//footer//a[@href='https://trust.example.org/about']/text()") == [
        "Example Child Safety Trust"
    ]
    assert page.xpath("//footer//a[@href='mailto:help@trust.example.org']")


@sqlite_only
@pytest.mark.parametrize("settings_overrides", [OPERATOR])
def test_the_privacy_notice_names_the_operator(client: FlaskClient) -> None:
    page = document(client, "/takedown/privacy")
    section = text_of(page, "//main//section[@aria-labelledby='privacy-operator']")
    assert "This service is run by Example Child Safety Trust." in section
    assert "Contact: help@trust.example.org" in section


@sqlite_only
@pytest.mark.parametrize(
    ("contact", "href"),
    [("+1 (555) 010-0000", "tel:+15550100000"), ("https://trust.example.org/c", None)],
)
def test_a_phone_contact_is_a_tel_link_and_a_web_contact_a_link(
    database_url: str, contact: str, href: str | None
) -> None:
    from haven.app import create_app

    app = create_app(make_settings(database_url, operator_contact=contact))
    page = document(app.test_client(), "/takedown/")
    assert page.xpath("//footer//a/@href")[-1] == (href or contact)


@sqlite_only
def test_without_operator_settings_the_footer_names_nobody_and_the_notice_says_so(
    client: FlaskClient,
) -> None:
    footer = text_of(document(client, "/takedown/"), "//footer")
    assert "run by" not in footer
    assert "Contact" not in footer
    notice = text_of(document(client, "/takedown/privacy"), "//main")
    assert "The organisation that runs this service has not given its name here." in notice


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"operator_url": "trust.example.org"},
            "HAVEN_OPERATOR_URL: 'trust.example.org' is not a web address like https://example.org",
        ),
        (
            {"operator_url": "javascript:alert(1)"},
            "HAVEN_OPERATOR_URL: 'javascript:alert(1)' is not a web address like "
            "https://example.org",
        ),
        (
            {"operator_contact": "ask at the front desk"},
            "HAVEN_OPERATOR_CONTACT: 'ask at the front desk' is not an email address, a web "
            "address (https://...) or a phone number (+1 555 010 0000)",
        ),
    ],
)
def test_a_bad_operator_address_or_contact_stops_start_up_with_a_clear_message(
    overrides: dict[str, str], line: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**overrides)  # type: ignore[arg-type]
    assert describe_errors(refused.value) == [line]


def test_blank_operator_settings_are_unset() -> None:
    settings = Settings(
        operator_name="  ", operator_url="", operator_contact=" ", takedown_service_name=""
    )
    assert (
        settings.operator_name,
        settings.operator_url,
        settings.operator_contact,
        settings.takedown_service_name,
    ) == (None, None, None, None)


@sqlite_only
def test_by_default_the_service_has_a_neutral_name_never_take_it_down(
    client: FlaskClient,
) -> None:
    flow = document(client, "/takedown/")
    assert text_of(flow, "//h1") == NEUTRAL_NAME
    assert text_of(flow, "//title") == f"{NEUTRAL_NAME} · Haven"
    assert text_of(flow, "//p[contains(@class, 'print-only')]") == f"Haven: {NEUTRAL_NAME}"
    assert f'"file_title": "Haven: {NEUTRAL_NAME}"' in client.get("/takedown/").get_data(
        as_text=True
    )
    home = document(client, "/")
    assert text_of(home, "//h2[@id='takedown-title']") == NEUTRAL_NAME
    assert text_of(home, "//main//a[@href='/takedown/']") == NEUTRAL_NAME
    for path in ("/", *TAKEDOWN_PAGES):  # (the help may name NCMEC's service: not a title)
        titles = text_of(document(client, path), "//title | //h1 | //h2")
        assert "take it down" not in titles.lower(), path


@sqlite_only
@pytest.mark.parametrize("settings_overrides", [{"takedown_service_name": "Take It Down"}])
def test_the_service_is_called_take_it_down_when_the_operator_says_so(
    client: FlaskClient,
) -> None:
    client.set_cookie("lang", "es")  # a proper name: the same in every language
    flow = document(client, "/takedown/")
    assert text_of(flow, "//h1") == "Take It Down"
    assert text_of(flow, "//title") == "Take It Down · Haven"
    assert text_of(flow, "//p[contains(@class, 'print-only')]") == "Haven: Take It Down"
    home = document(client, "/")
    assert text_of(home, "//h2[@id='takedown-title']") == "Take It Down"
    assert text_of(home, "//main//a[@href='/takedown/']") == "Take It Down"
    assert NEUTRAL_NAME not in client.get("/takedown/").get_data(as_text=True)


def listed(client: FlaskClient) -> list[str]:
    return [
        " ".join(t.split())
        for t in document(client, "/takedown/platforms").xpath(
            "//ul[@class='platform-list']/li//text()"
        )
    ]


def test_no_platform_is_listed_by_default_and_the_page_says_so_plainly(
    client: FlaskClient,
) -> None:
    page = document(client, "/takedown/platforms")
    assert page.xpath("//ul[@class='platform-list']") == []
    main = text_of(page, "//main")
    assert "No platform is named here yet." in main
    assert "No platform takes part yet." in main


def test_the_platforms_page_lists_only_named_unrevoked_real_platforms(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        session = get_session()
        add_platform(session=session, name="zeta", public_name="Zeta Video")
        add_platform(session=session, name="alpha", public_name="  Alpha   Social ")
        add_platform(session=session, name="quiet")  # takes part, not named
        add_platform(session=session, name="gone", public_name="Gone Forever")
        revoke_platform(session=session, name="gone")
        add_platform(session=session, name="trial", sandbox=True)
        with write(session):  # a sandbox platform given a public name behind the CLI's back
            trial = store.get_platform_by_name(session=session, name="trial")
            assert trial is not None
            trial.public_name = "Sandbox Tester"
    assert listed(client) == ["Alpha Social", "Zeta Video"]
    main = text_of(document(client, "/takedown/platforms"), "//main")
    assert "1 other platform takes part without being named here." in main
    assert "Sandbox Tester" not in main
    assert "Gone Forever" not in main


def test_unnamed_platforms_are_counted_but_not_named(app: Flask, client: FlaskClient) -> None:
    create_platform(app, "one")
    create_platform(app, "two")
    main = text_of(document(client, "/takedown/platforms"), "//main")
    assert "No platform is named here yet." in main
    assert "2 platforms take part without being named here." in main
    assert "one" not in listed(client)


@pytest.fixture
def haven(app: Flask) -> CliRunner:
    return CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url)})


def test_the_cli_lists_a_platform_under_a_public_name_and_takes_it_off(
    haven: CliRunner, client: FlaskClient
) -> None:
    added = haven.invoke(main, ["platform", "add", "ex", "--public-name", "Example Social"])
    assert added.exit_code == 0, added.output
    assert listed(client) == ["Example Social"]
    renamed = haven.invoke(main, ["platform", "public-name", "ex", "Example Social & Video"])
    assert renamed.exit_code == 0, renamed.output
    assert "listed on /takedown/platforms as 'Example Social & Video'" in renamed.output
    assert listed(client) == ["Example Social & Video"]
    cleared = haven.invoke(main, ["platform", "public-name", "ex", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    assert listed(client) == []
    shown = haven.invoke(main, ["platform", "list", "--json"])
    assert '"public_name": null' in shown.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["platform", "public-name", "nobody", "Nobody Inc"], "No platform is named 'nobody'."),
        (["platform", "public-name", "ex"], "Give exactly one of PUBLIC_NAME or --clear."),
        (["platform", "public-name", "ex", "X", "--clear"], "Give exactly one of PUBLIC_NAME"),
        (["platform", "public-name", "ex", "   "], "A public name is 1 to 100 characters."),
        (["platform", "public-name", "ex", "x" * 101], "A public name is 1 to 100 characters."),
        (["platform", "public-name", "sb", "Sandbox"], "'sb' is a sandbox platform"),
        (["platform", "public-name", "old", "Old"], "'old' is revoked"),
        (["platform", "add", "sb2", "--sandbox", "--public-name", "S"], "gets no public name"),
    ],
)
def test_the_cli_refuses_a_public_name_it_cannot_list_and_changes_nothing(
    haven: CliRunner, client: FlaskClient, arguments: list[str], message: str
) -> None:
    for setup in (["add", "ex"], ["add", "sb", "--sandbox"], ["add", "old"], ["revoke", "old"]):
        assert haven.invoke(main, ["platform", *setup]).exit_code == 0
    result = haven.invoke(main, arguments)
    assert result.exit_code != 0
    assert message in result.output
    assert listed(client) == []
    assert "sb2" not in haven.invoke(main, ["platform", "list"]).output
