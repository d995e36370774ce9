"""SMS keywords: what a text message to Haven asks for. Pure parsing; no Flask, no database.

Keywords are matched case-insensitively on the first word, ignoring surrounding whitespace and
trailing punctuation ("Stop!" is STOP). The opt-out, opt-in and help words are the ones
carriers and Twilio's Advanced Opt-Out recognise, so Haven's state agrees with the carrier's.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Literal

from babel import Locale

from haven.i18n import ACCEPT_ALIASES, ALL

# CTIA and Twilio's standard opt-out words (REVOKE and OPTOUT since the FCC's 2025 rules).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
# Twilio treats YES as an opt-in too; matching it keeps Haven's state in step with Twilio's.
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
JOIN_WORDS = frozenset({"JOIN", "AMBER"})
LANG_WORDS = frozenset({"LANG", "LANGUAGE"})

Kind = Literal["join", "stop", "start", "help", "lang"]

_SPLIT = re.compile(r"[\s,;]+")
ZIP_RE = re.compile(r"(\d{5})(?:-\d{4})?")
_TRAILING = ".!?¡¿:"
# Shown back to the sender when a word is not understood; never more than this.
ECHO_LIMIT = 12


@dataclasses.dataclass(frozen=True)
class Command:
    """What one message asks for.

    join: `zips` (five digits each, in order, without repeats); `bad` is the first word that is
    not a ZIP code, if any. lang: `language` is a public code, or None with `bad` set.
    """

    kind: Kind
    zips: tuple[str, ...] = ()
    language: str | None = None
    bad: str | None = None


def _fold(text: str) -> str:
    """Lower case without accents: "Español" and "espanol" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _language_names() -> dict[str, str]:
    english = Locale("en")
    names: dict[str, str] = {}
    for code, language in ALL.items():
        for name in (
            code,
            language.catalog,
            language.name,
            english.languages.get(language.catalog, ""),
        ):
            if name:
                names[_fold(name)] = code
    for alias, code in ACCEPT_ALIASES.items():
        names[_fold(alias)] = code
    # What people call these languages when CLDR's English name differs.
    names.update({"bengali": "bn", "tagalog": "tl", "kurdish": "ckb", "sorani": "ckb"})
    names.update({"bahasa indonesia": "id", "mandarin": "zh"})
    names.update({"farsi": "fa", "haitian": "ht", "kreyol": "ht", "kiswahili": "sw"})
    return names


LANGUAGE_NAMES = _language_names()


def find_language(text: str) -> str | None:
    """The public code `text` names: a code ("es", "pt-BR"), or a name in the language itself
    or in English ("español", "Spanish"); None if it names none of Haven's languages."""
    folded = _fold(text).strip(_TRAILING)
    if not folded:
        return None
    if folded in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[folded]
    base = re.split(r"[-_]", folded, maxsplit=1)[0]
    return LANGUAGE_NAMES.get(base) if re.fullmatch(r"[a-z]{2,3}([-_][a-z0-9]+)*", folded) else None


def echo(text: str) -> str:
    """A sender's word, cut short, to quote back in a reply (plain dots: "…" is not in the
    GSM alphabet, and one such character halves what a text message holds)."""
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 3] + "..."


def split_words(text: str) -> list[str]:
    """The words of a message or a form field, split on spaces, commas and semicolons."""
    return [w for w in _SPLIT.split(text.strip()) if w]


def parse(body: str) -> Command:
    """What the message `body` asks for; anything not understood asks for help."""
    words = split_words(body)
    if not words:
        return Command("help")
    keyword = words[0].strip(_TRAILING).upper()
    rest = words[1:]
    if keyword in STOP_WORDS:
        return Command("stop")
    if keyword in START_WORDS:
        return Command("start")
    if keyword in HELP_WORDS:
        return Command("help")
    if keyword in LANG_WORDS:
        wanted = " ".join(rest)
        code = find_language(wanted)
        return Command("lang", language=code, bad=None if code else echo(wanted))
    if keyword in JOIN_WORDS:
        zips: list[str] = []
        for word in rest:
            match = ZIP_RE.fullmatch(word.strip(_TRAILING))
            if match is None:
                return Command("join", tuple(zips), bad=echo(word))
            if match[1] not in zips:
                zips.append(match[1])
        return Command("join", tuple(zips))
    return Command("help")
