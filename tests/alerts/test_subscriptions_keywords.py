"""SMS keywords are read case-insensitively from the first word; anything else asks for help."""

from __future__ import annotations

import pytest

from alerts.subscriptions.keywords import Command, find_language, parse


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("JOIN 60601", Command("join", ("60601",))),
        ("  amber 60601  ", Command("join", ("60601",))),
        ("Join 60601 60614", Command("join", ("60601", "60614"))),
        ("join 60601, 60614; 60601", Command("join", ("60601", "60614"))),
        ("JOIN 60601-1234", Command("join", ("60601",))),
        ("JOIN", Command("join")),
        ("JOIN chicago", Command("join", bad="chicago")),
        ("JOIN 60601 abcdefghijklmnop", Command("join", ("60601",), bad="abcdefghi...")),
        ("STOP", Command("stop")),
        ("stop!", Command("stop")),
        ("Stop sending these", Command("stop")),
        ("STOPALL", Command("stop")),
        ("unsubscribe", Command("stop")),
        ("CANCEL", Command("stop")),
        ("end", Command("stop")),
        ("Quit", Command("stop")),
        ("START", Command("start")),
        ("unstop", Command("start")),
        ("HELP", Command("help")),
        ("info", Command("help")),
        ("LANG es", Command("lang", language="es")),
        ("lang ES", Command("lang", language="es")),
        ("LANG español", Command("lang", language="es")),
        ("LANG Espanol", Command("lang", language="es")),
        ("LANG Spanish", Command("lang", language="es")),
        ("LANG pt-BR", Command("lang", language="pt")),
        ("LANG tagalog", Command("lang", language="tl")),
        ("LANG 中文", Command("lang", language="zh")),
        ("LANG klingon", Command("lang", bad="klingon")),
        ("LANG", Command("lang", bad="")),
        ("hello", Command("help")),
        ("", Command("help")),
        ("   ", Command("help")),
        ("60601", Command("help")),
    ],
)
def test_each_message_is_read_as_its_keyword(body: str, command: Command) -> None:
    assert parse(body) == command


def test_every_language_is_found_by_its_code_and_its_own_name() -> None:
    from haven.i18n import ALL

    for code, language in ALL.items():
        assert find_language(code) == code
        assert find_language(language.name) == code
        assert find_language(language.name.upper()) == code
