"""Languages: which one a request is answered in, the picker that changes it, and the catalogs.

A page speaks the language of the `lang` cookie if it names one of Haven's languages, else the
best match of the browser's Accept-Language, else English. The picker is a list of plain links
(`/lang/<code>?next=/takedown/`) that set the cookie, so it works without JavaScript. The
cookie is the only one Haven sets on anonymous routes; it holds a language code and nothing else.

Catalogs live in `translations/<catalog>/LC_MESSAGES/messages.po` (see mk/i18n.mk). A catalog
folder is named by the public code, except where Babel reads that code as another locale:
`CATALOG_LOCALES` is that one table.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from urllib.parse import urlsplit

from babel import Locale
from flask import Blueprint, Flask, current_app, g, redirect, request
from flask_babel import Babel
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from haven.languages import LANGUAGES
from haven.privacy import anonymous
from haven.settings import PROJECT_ROOT

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
DEFAULT_LANGUAGE = "en"
# Public code -> Babel locale and catalog folder, where they differ. Babel parses "tl" as
# fil_PH, and Flask-Babel would then look for translations/fil_PH or fil, never tl.
CATALOG_LOCALES = {"tl": "fil"}
# Accept-Language tags that mean one of our languages under another code.
ACCEPT_ALIASES = {"fil": "tl"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class Language:
    """One of Haven's languages, as pages need it.

    The name and direction come from CLDR locale data, loaded on first use: loading it for
    all 26 languages costs a third of a second, which no process should pay just to start.
    """

    code: str  # public code
    catalog: str  # Babel locale identifier and catalog folder

    @functools.cached_property
    def name(self) -> str:
        """The language's name in itself, e.g. "Español"."""
        name = Locale.parse(self.catalog).get_display_name(self.catalog) or self.code
        # CLDR writes some names in lower case ("español"); a menu entry starts with a capital.
        return name[:1].upper() + name[1:]

    @functools.cached_property
    def direction(self) -> str:
        """Which way the language is written: "ltr" or "rtl"."""
        direction: str = Locale.parse(self.catalog).text_direction
        return direction


# Every language, in the picker's order (haven/languages.py: the public codes).
ALL: dict[str, Language] = {
    code: Language(code, CATALOG_LOCALES.get(code, code)) for code in LANGUAGES
}


def name_in(code: str, reader: Locale | str) -> str:
    """The language `code` named in the reader's language ("inglés"), from CLDR; where CLDR
    has no such name (it names no language in Haitian Creole), the language's own name."""
    return Locale.parse(ALL[code].catalog).get_display_name(reader) or ALL[code].name


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The public code to answer in: the cookie's if valid, else Accept-Language's, else en."""
    if cookie in ALL:
        return cookie
    # In the browser's order of preference: the first tag whose language we have wins, so
    # "ar-EG, en;q=0.5" is Arabic (werkzeug's best_match would prefer the exact "en").
    for tag, quality in parse_accept_header(accept_language or "", LanguageAccept):
        if quality <= 0 or tag == "*":
            continue
        tag = tag.lower().replace("_", "-")
        for candidate in (tag, tag.split("-", 1)[0]):
            candidate = ACCEPT_ALIASES.get(candidate, candidate)
            if candidate in ALL:
                return candidate
    return DEFAULT_LANGUAGE


def current_language() -> Language:
    """The language of the current request (negotiated once per request)."""
    if "haven_language" not in g:
        g.haven_language = ALL[
            negotiate(request.cookies.get(COOKIE), request.headers.get("Accept-Language"))
        ]
    language: Language = g.haven_language
    return language


def _select_locale() -> str:
    return current_language().catalog


def is_safe_next(target: str) -> bool:
    """Whether `target` is a path on this site (never another host, scheme or protocol-relative)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _public_url() -> str:
    url: str = current_app.extensions["haven.settings"].public_url
    return url


bp = anonymous(Blueprint("i18n", __name__))


@bp.get("/lang/<code>")
def choose_language(code: str) -> Response:
    """Remember the chosen language in the `lang` cookie and go back to `next` on this site."""
    target = request.args.get("next", "/")
    response = redirect(target if is_safe_next(target) else "/", code=303)
    if code in ALL:
        response.set_cookie(
            COOKIE,
            code,
            max_age=COOKIE_MAX_AGE,
            path="/",
            secure=request.is_secure or _public_url().startswith("https://"),
            httponly=True,
            samesite="Lax",
        )
    return response


def _template_context() -> dict[str, object]:
    return {"language": current_language(), "languages": list(ALL.values())}


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to Haven's catalogs and negotiation, and add the picker's route."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    Babel(app, locale_selector=_select_locale)
    # {% trans %} blocks are extracted with trimmed whitespace (babel.cfg); render them so too.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.context_processor(_template_context)
    app.register_blueprint(bp)


def fill_english_catalog(directory: Path = TRANSLATIONS_DIR) -> int:
    """After `pybabel update`: every empty or fuzzy English msgstr becomes its msgid.

    English is the source language, so its translation of a message is the message itself.
    (An editor may still improve an English msgstr without changing the msgid, and so without
    invalidating the other catalogs.) Other catalogs are left to their translators. Returns
    how many messages were filled.
    """
    from babel.messages.pofile import read_po, write_po  # a build step's import, not a page's

    path = directory / DEFAULT_LANGUAGE / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as stream:
        catalog = read_po(stream)
    filled = 0
    for message in catalog:
        strings = message.string if isinstance(message.string, list | tuple) else [message.string]
        if message.id and (message.fuzzy or not all(strings)):
            if isinstance(message.id, list | tuple):
                singular, plural = message.id[0], message.id[1]
                message.string = (singular, *[plural] * (catalog.num_plurals - 1))
            else:
                message.string = message.id
            message.flags.discard("fuzzy")
            filled += 1
    if filled:
        with path.open("wb") as stream:
            write_po(stream, catalog, width=76, ignore_obsolete=True)
    return filled
