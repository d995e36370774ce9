"""Languages: the catalogs are complete and sound, and each language is found and chosen right.

The completeness test fails until a language is translated; the languages still waiting for
their translators are listed in PENDING_LANGUAGES, and expected to fail (strictly: a language
that becomes complete must leave the list).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask

from haven import i18n
from haven.i18n import ALL, CATALOG_LOCALES, LANGUAGES, name_in, negotiate
from haven.settings import PROJECT_ROOT
from tests.conftest import make_settings

TRANSLATIONS = PROJECT_ROOT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
PYBABEL = Path(sys.executable).parent / "pybabel"

# Languages whose translation is not finished yet: their completeness test is expected to
# fail (strictly, so a finished language must leave the list). All 26 are complete.
PENDING_LANGUAGES: frozenset[str] = frozenset()


def catalog_path(code: str, directory: Path = TRANSLATIONS) -> Path:
    return directory / CATALOG_LOCALES.get(code, code) / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


def message_ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {tuple(m.id) if isinstance(m.id, list | tuple) else m.id for m in catalog if m.id}


def strings_of(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, list | tuple) else [message.string]


def test_there_are_34_languages_with_the_agreed_codes() -> None:
    agreed = (
        "en es ar bn de fr hi id is it km ko ckb ml mr nl pt si ta th tl tr uk ur vi zh"
        " ru fa pl ja ht so sw am"
    )
    assert list(LANGUAGES) == agreed.split()


def test_the_template_holds_every_message_the_code_uses(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(PYBABEL), "-q", "extract", "-F", "babel.cfg", "-o", str(fresh), "."],
        cwd=PROJECT_ROOT,
        check=True,
    )
    assert message_ids(read_catalog(fresh)) == message_ids(read_catalog(TEMPLATE)), (
        "translations/messages.pot is out of date: run `make messages`"
    )


def test_catalog_folders_are_the_public_codes_except_where_babel_needs_another() -> None:
    folders = {p.name for p in TRANSLATIONS.iterdir() if p.is_dir()}
    assert folders == {CATALOG_LOCALES.get(code, code) for code in LANGUAGES}
    assert CATALOG_LOCALES == {"tl": "fil"}  # Babel reads "tl" as fil_PH


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_catalog_is_for_its_language_and_holds_exactly_the_templates_messages(
    code: str,
) -> None:
    catalog = read_catalog(catalog_path(code))
    expected = Locale.parse(CATALOG_LOCALES.get(code, code))
    assert str(catalog.locale) == str(expected)
    assert catalog.num_plurals == get_plural(expected).num_plurals
    assert message_ids(catalog) == message_ids(read_catalog(TEMPLATE)), (
        f"{code}: run `make messages` to update the catalog"
    )


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_catalogs_placeholders_and_plural_forms_match_the_english(code: str) -> None:
    catalog = read_catalog(catalog_path(code))
    problems = [
        f"{message.id!r}: {error}"
        for message, errors in catalog.check()
        for error in errors
        if any(strings_of(message))  # untranslated messages are the completeness test's job
    ]
    assert not problems


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_catalog_compiles_and_loads(code: str) -> None:
    catalog = read_catalog(catalog_path(code))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(compiled)
    assert translations.gettext("Stop nude images of you spreading")


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            code,
            marks=pytest.mark.xfail(strict=True, reason="translation pending (PENDING_LANGUAGES)"),
        )
        if code in PENDING_LANGUAGES
        else code
        for code in LANGUAGES
    ],
)
def test_each_language_is_completely_translated(code: str) -> None:
    catalog = read_catalog(catalog_path(code))
    assert not catalog.fuzzy, f"{code}: the catalog's header is marked fuzzy"
    empty = [m.id for m in catalog if m.id and not all(strings_of(m))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not empty, f"{code}: {len(empty)} untranslated, e.g. {empty[:3]}"
    assert not fuzzy, f"{code}: {len(fuzzy)} fuzzy, e.g. {fuzzy[:3]}"


def test_english_translates_each_plural_message_into_its_singular_and_plural() -> None:
    catalog = read_catalog(catalog_path("en"))
    plurals = [m for m in catalog if m.id and m.pluralizable]
    assert plurals
    assert all(list(m.string) == list(m.id) for m in plurals)


@pytest.fixture(scope="module")
def marked_translations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of every catalog, compiled, with the takedown page's heading (the service's
    neutral name) translated as "[<code>]"."""
    folder = tmp_path_factory.mktemp("translations")
    for code in LANGUAGES:
        catalog = read_catalog(catalog_path(code))
        catalog["Stop nude images of you spreading"].string = f"[{code}]"
        target = catalog_path(code, folder).with_suffix(".mo")
        target.parent.mkdir(parents=True)
        with target.open("wb") as stream:
            write_mo(stream, catalog)
    return folder


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_language_is_answered_from_its_own_compiled_catalog(
    code: str,
    marked_translations: Path,
    sqlite_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from haven.app import create_app

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", marked_translations)
    app: Flask = create_app(make_settings(sqlite_database))
    client = app.test_client()
    client.set_cookie("lang", code)
    page = client.get("/takedown/")
    assert f"<h1>[{code}]</h1>" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("cookie", "accept_language", "expected"),
    [
        (None, None, "en"),
        (None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, "ar-EG, en;q=0.5", "ar"),  # a regional tag still beats a lower-ranked exact one
        (None, "de-CH, fr;q=0.9", "de"),
        (None, "fr;q=0.3, tr;q=0.9", "tr"),
        (None, "fil-PH", "tl"),
        (None, "tl", "tl"),
        (None, "zh-TW,zh;q=0.9", "zh"),
        (None, "ckb-IQ", "ckb"),
        (None, "pt-BR", "pt"),
        (None, "xx, yy-ZZ", "en"),
        (None, "*", "en"),
        (None, "es;q=0", "en"),
        ("ar", "es", "ar"),
        ("xx", "es", "es"),
        ("XX", None, "en"),
        ("", None, "en"),
    ],
)
def test_the_language_is_the_cookies_else_the_browsers_best_else_english(
    cookie: str | None, accept_language: str | None, expected: str
) -> None:
    assert negotiate(cookie, accept_language) == expected


def test_each_language_is_named_in_itself_and_written_in_its_direction() -> None:
    names = {code: language.name for code, language in ALL.items()}
    assert names["en"] == "English"
    assert names["es"] == "Español"
    assert names["ar"] == "العربية"
    assert names["tl"] == "Filipino"
    assert names["zh"] == "中文"
    assert names["ht"] == "Kreyòl Ayisyen"
    assert names["fa"] == "فارسی"
    assert len(set(names.values())) == len(LANGUAGES)
    assert {code for code, language in ALL.items() if language.direction == "rtl"} == {
        "ar",
        "ckb",
        "ur",
        "fa",
    }


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/takedown/", True),
        ("/takedown/status?x=1", True),
        ("/", True),
        ("", False),
        ("//evil.example/", False),
        ("/\\evil.example/", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("\t//evil.example/", False),
        ("/\t/evil.example/", False),
        ("takedown/", False),
    ],
)
def test_only_paths_on_this_site_are_safe_to_return_to(target: str, safe: bool) -> None:
    assert i18n.is_safe_next(target) is safe


def test_a_language_cldr_cannot_name_in_the_readers_language_goes_by_its_own_name() -> None:
    # CLDR names no language in Haitian Creole: the SMS line "In %(language)s" must not
    # show a bare code ("An es").
    assert name_in("es", "ht") == "Español"
    assert name_in("es", "fr") == "espagnol"
