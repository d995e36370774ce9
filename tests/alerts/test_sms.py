"""SMS segments and the alert texts: counted as carriers count them, rendered in the reader's
language, fitted to the segment budget without ever losing the plate or the link."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.sms import DROP_ORDER, LRI, PDI, Segments, render_channel, render_sms, segments
from haven import i18n
from haven.app import create_app
from tests.conftest import make_settings
from tests.factories import catalog_text, draft_body

ROOT = Path(__file__).parents[2]
LINK = "https://haven.example.org/a/42"

# The GSM 03.38 default alphabet and its extension table, written out from 3GPP TS 23.038
# (independently of the gsm0338 codec that alerts/sms.py uses).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"


def reference_segments(text: str) -> Segments:
    """Segments as the standard describes them, from the alphabet above."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        encoding, single, per = "GSM-7", 160, 153
        costs = [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, single, per = "UCS-2", 70, 67
        costs = [len(c.encode("utf-16-le")) // 2 for c in text]
    units = sum(costs)
    if units <= single:
        return Segments(encoding, units, 1)  # type: ignore[arg-type]
    segments_, room = 1, per
    for cost in costs:
        if cost > room:  # a pair of units never straddles two segments
            segments_, room = segments_ + 1, per
        room -= cost
    return Segments(encoding, units, segments_)  # type: ignore[arg-type]


# Segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", "GSM-7", 0, 1),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("ñ" * 70, "GSM-7", 70, 1),
        ("ç", "UCS-2", 1, 1),  # only the capital Ç is in the GSM alphabet
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),
        ("Call 911 ’now’", "UCS-2", 14, 1),  # one curly quote makes a text UCS-2
    ],
)
def test_known_texts_take_the_expected_segments(
    text: str, encoding: str, units: int, count: int
) -> None:
    assert segments(text) == Segments(encoding, units, count)  # type: ignore[arg-type]


@pytest.mark.parametrize("character", list("€[]{}^~\\|"))
def test_each_extension_character_costs_two_septets(character: str) -> None:
    assert segments(character) == Segments("GSM-7", 2, 1)
    assert segments("a" * 158 + character) == Segments("GSM-7", 160, 1)
    assert segments("a" * 159 + character) == Segments("GSM-7", 161, 2)


def test_an_escape_pair_is_never_split_across_segments() -> None:
    # 306 septets fill two segments exactly, but the € cannot start at septet 153.
    assert segments("a" * 152 + "€" + "a" * 152) == Segments("GSM-7", 306, 3)
    assert segments("a" * 153 + "€" + "a" * 151) == Segments("GSM-7", 306, 2)


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    assert segments("a" * 66 + "😀" + "a" * 66) == Segments("UCS-2", 134, 3)
    assert segments("a" * 67 + "😀" + "a" * 65) == Segments("UCS-2", 134, 2)


def test_greek_capitals_of_the_gsm_alphabet_stay_gsm_but_alpha_does_not() -> None:
    assert segments("ΔΦΓΛΩΠΨΣΘΞ") == Segments("GSM-7", 10, 1)
    # Greek capital alpha looks like A but has no GSM code.
    assert segments("ΑΒΓ").encoding == "UCS-2"


def test_an_emoji_costs_two_utf16_units() -> None:
    assert segments("Found 🙏") == Segments("UCS-2", 8, 1)


def test_arabic_is_counted_in_ucs2_units() -> None:
    text = "إنذار أمبر: طفلة مفقودة"
    assert segments(text) == Segments("UCS-2", len(text), 1)
    assert segments(text * 3 + "ة") == Segments("UCS-2", 70, 1)
    assert segments(text * 3 + "ةة") == Segments("UCS-2", 71, 2)


def test_the_escape_control_character_is_not_sent_as_gsm() -> None:
    assert segments("a\x1bb").encoding == "UCS-2"


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(GSM_BASIC),
            st.sampled_from(GSM_EXTENSION),
            st.sampled_from("çáЖ中ع’😀🚗"),
        ),
        max_size=400,
    )
)
def test_segments_agree_with_a_reference_computation(text: str) -> None:
    assert segments(text) == reference_segments(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION), max_size=500))
def test_gsm_only_texts_agree_with_a_reference_computation(text: str) -> None:
    assert segments(text) == reference_segments(text)


# Rendering


@pytest.fixture(scope="module")
def sms_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app for rendering (no database use)."""
    folder = tmp_path_factory.mktemp("sms")
    return create_app(make_settings(f"sqlite:///{folder / 'haven.db'}"))


@pytest.fixture
def context(sms_app: Flask) -> Iterator[None]:
    with sms_app.app_context():
        yield


def content(**overrides: Any) -> dict[str, Any]:
    """Stored alert content (an AlertIn dump) for Jane Doe, as in the README."""
    return draft_body(**overrides)


def sms(alert: dict[str, Any], language: str = "en", budget: int = 2, **kw: Any) -> str:
    options: dict[str, Any] = {"kind": "alert", "agency": "Chicago PD", "link": LINK}
    options.update(kw)
    return render_sms(alert_content=alert, language=language, budget=budget, **options)


@pytest.mark.usefixtures("context")
def test_an_alert_gives_every_part_in_priority_order_when_it_fits() -> None:
    text = sms(content(), budget=3)
    assert text == (
        "AMBER Alert (Chicago PD)\n"
        "Missing: Jane Doe, age 7\n"
        "Vehicle: blue Ford Focus, plate IL ABC1234\n"
        "Jane Doe: brown hair, red jacket\n"
        "Suspect: white male, 40s, grey hoodie\n"
        "Last seen: Millennium Park, Chicago\n"
        "Call 911 with any information.\n"
        "Call 911 or +18005551234\n"
        f"{LINK}"
    )
    assert segments(text) == Segments("GSM-7", 286, 2)


@pytest.mark.usefixtures("context")
def test_an_update_starts_with_update_and_keeps_the_details() -> None:
    text = sms(content(), kind="update")
    assert text.startswith("UPDATE: AMBER Alert (Chicago PD)\nMissing: Jane Doe, age 7\n")
    assert "IL ABC1234" in text
    assert text.endswith(LINK)


@pytest.mark.usefixtures("context")
def test_a_cancellation_for_a_found_child_reads_exactly_so() -> None:
    text = sms(content(), kind="cancel", cancel_reason="child_found")
    assert text == (
        "CANCELLED: child found. AMBER Alert for Jane Doe (Chicago PD) has ended. Thank you.\n"
        f"{LINK}"
    )


@pytest.mark.usefixtures("context")
def test_a_cancellation_for_another_reason_does_not_say_found() -> None:
    text = sms(content(), kind="cancel", cancel_reason="other")
    assert text == f"CANCELLED: AMBER Alert for Jane Doe (Chicago PD) has ended.\n{LINK}"


@pytest.mark.usefixtures("context")
def test_a_cancellation_lists_every_child_as_the_readers_language_lists() -> None:
    alert = content(children=[{"name": "Jane Doe", "age": 7}, {"name": "John Doe", "age": 5}])
    english = sms(alert, kind="cancel", cancel_reason="child_found")
    spanish = sms(alert, "es", kind="cancel", cancel_reason="child_found")
    assert english.startswith("CANCELLED: children found. AMBER Alert for Jane Doe and John Doe")
    assert "Jane Doe y John Doe" in spanish


@pytest.mark.usefixtures("context")
def test_an_exercise_says_it_is_a_test_before_anything_else() -> None:
    for kind in ("alert", "update", "cancel"):
        text = sms(content(status="Exercise"), kind=kind, cancel_reason="other")
        assert text.startswith("TEST MESSAGE, not a real alert\n")


def long_alert() -> dict[str, Any]:
    """An alert whose optional parts each take about a segment, each recognisable."""
    return content(
        children=[
            {"name": "Jane Doe", "age": 7, "description": "CHILD " + "brown hair " * 13},
            {"name": "John Doe", "age": 5},
        ],
        suspects=[{"name": "Rob Roe", "description": "SUSPECT " + "grey hoodie " * 12}],
        last_seen={"place": "PLACE " + "Millennium Park " * 9},
        texts={"en": "TEXT " + "Do not approach. " * 9},
    )


def present(text: str) -> dict[str, bool]:
    """Which of the optional parts `text` still holds."""
    return {
        "text": "TEXT" in text,
        "suspects": "SUSPECT" in text,
        "place": "PLACE" in text,
        "child_descriptions": "CHILD" in text,
        "vehicle": "Ford Focus" in text,
    }


@pytest.mark.usefixtures("context")
def test_a_long_alert_drops_optional_parts_one_by_one_in_the_documented_order() -> None:
    dropped_counts = []
    for budget in range(8, 0, -1):
        text = sms(long_alert(), budget=budget)
        assert segments(text).count <= budget
        parts = present(text)
        dropped = [name for name in DROP_ORDER if not parts[name]]
        # Always a prefix of the order: nothing goes before everything ahead of it has gone.
        assert dropped == list(DROP_ORDER[: len(dropped)]), (budget, dropped)
        dropped_counts.append(len(dropped))
        assert "IL ABC1234" in text
        assert text.endswith(LINK)
    assert dropped_counts == sorted(dropped_counts)
    assert set(dropped_counts) == set(range(len(DROP_ORDER) + 1))


@pytest.mark.usefixtures("context")
def test_the_direction_of_travel_follows_the_place_and_is_left_out_with_it() -> None:
    sighting = {"place": "Millennium Park, Chicago", "direction": "north on I-94"}
    alert = content(last_seen=sighting)
    assert "Last seen: Millennium Park, Chicago\nHeading: north on I-94\n" in sms(alert, budget=3)
    heading = catalog_text("es", "Heading: %(direction)s")
    assert f"{heading} north on I-94" in sms(alert, "es", budget=3)
    moved = content(last_seen=sighting | {"direction": "south on I-94"})
    assert "Heading: south on I-94" in sms(moved, kind="update", previous_content=alert)
    retold = content(last_seen=sighting, texts={"en": "New photo at the link."})
    assert "Heading" not in sms(retold, kind="update", previous_content=alert)
    long = long_alert()
    long["last_seen"]["direction"] = "HEADING north"
    for budget in range(8, 0, -1):
        text = sms(long, budget=budget)
        assert ("HEADING" in text) == ("PLACE" in text), budget


@pytest.mark.usefixtures("context")
def test_with_one_segment_the_other_children_become_a_count() -> None:
    alert = long_alert()
    alert["children"].append({"name": "Jim Doe", "age": 3})
    assert "Missing: John Doe, age 5" in sms(alert, budget=2)
    text = sms(alert, budget=1)
    assert text == (
        "AMBER Alert (Chicago PD)\n"
        "Missing: Jane Doe, age 7, and 2 other children\n"
        "Plate: IL ABC1234\n"
        "Call 911 or +18005551234\n"
        f"{LINK}"
    )


@pytest.mark.usefixtures("context")
def test_long_names_are_cut_with_an_ellipsis_but_the_plate_and_link_stay() -> None:
    alert = content(children=[{"name": "Maria " * 30 + "Doe", "age": 7}])
    text = sms(alert, budget=1, agency="Cook County Sheriff's Office " * 5)
    assert segments(text).count == 1
    assert "..." in text
    assert "Plate: IL ABC1234" in text
    assert text.endswith(LINK)
    assert "Missing: Maria Maria" in text


@pytest.mark.usefixtures("context")
def test_a_message_that_cannot_fit_goes_out_over_budget_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    link = "https://haven.example.org/a/" + "4" * 200
    with caplog.at_level(logging.WARNING, logger="alerts.sms"):
        text = sms(content(), budget=1, link=link)
    assert text.endswith(link)
    assert "IL ABC1234" in text
    assert "over budget" in caplog.text


@pytest.mark.usefixtures("context")
def test_typographic_quotes_and_dashes_are_sent_plain_so_the_text_stays_gsm() -> None:
    alert = content(texts={"en": "Don’t approach – call “911” …"})
    text = sms(alert, budget=3)
    assert 'Don\'t approach - call "911" ...' in text
    assert segments(text).encoding == "GSM-7"


@pytest.mark.usefixtures("context")
def test_the_agencys_text_appears_only_in_its_own_language() -> None:
    alert = content(texts={"en": "English words.", "es": "Palabras."})
    assert (
        "English words."
        in render_channel(
            alert_content=alert, kind="alert", agency="Chicago PD", language="en", link=LINK
        )[1]
    )
    assert (
        "Palabras."
        in render_channel(
            alert_content=alert, kind="alert", agency="Chicago PD", language="es", link=LINK
        )[1]
    )
    german = render_channel(
        alert_content=alert, kind="alert", agency="Chicago PD", language="de", link=LINK
    )[1]
    assert "English words." not in german
    assert "Palabras." not in german


@pytest.mark.usefixtures("context")
def test_a_channel_message_has_a_title_and_every_part_however_long() -> None:
    title, body = render_channel(
        alert_content=long_alert(), kind="update", agency="Chicago PD", language="en", link=LINK
    )
    assert title == "UPDATE: AMBER Alert (Chicago PD)"
    assert body.startswith(title + "\n")
    assert all(present(body).values())
    assert "Missing: John Doe, age 5" in body
    assert body.endswith(LINK)


def test_rendering_needs_an_app_context() -> None:
    with pytest.raises(RuntimeError, match="app context"):
        sms(content())


# Every language, a realistic alert: the agency wrote texts in a few of them.
REALISTIC = content(
    children=[{"name": "Sofia Ramirez", "age": 6, "description": "3 ft, black ponytail"}],
    suspects=[{"name": "Carlos Ramirez", "description": "father, 35, red cap"}],
    vehicle={
        "make": "Toyota",
        "model": "Camry",
        "color": "silver",
        "plate": "7ABC123",
        "plate_state": "CA",
    },
    last_seen={"place": "Elm St & 3rd Ave, Fresno"},
    contact_phone="+15595551234",
    texts={
        "en": "Do not approach. Call 911.",
        "es": "No se acerque. Llame al 911.",
        "ar": "لا تقترب. اتصل بالرقم 911.",
        "zh": "请勿靠近。请拨打911。",
        "vi": "Đừng đến gần. Gọi 911.",
        "ko": "접근하지 마십시오. 911에 전화하십시오.",
        "uk": "Не наближайтеся. Телефонуйте 911.",
        "hi": "पास न जाएँ। 911 पर कॉल करें।",
        "tl": "Huwag lumapit. Tumawag sa 911.",
    },
)


# Where the parts that are never left out no longer fit the default budget: an update to
# this alert in these right-to-left languages is the header, the child, the plate, the call
# line and the link alone (133 to 134 of 134 UCS-2 units), and the isolates that keep the
# number in order add 2 units (docs/sms.md, "Right to left").
OVER_BUDGET = {("update", "ar"), ("update", "ckb"), ("update", "ur")}


@pytest.mark.usefixtures("context")
@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("kind", ["alert", "update", "cancel"])
def test_every_language_fits_the_default_budget(language: str, kind: str) -> None:
    text = sms(REALISTIC, language, kind=kind, cancel_reason="child_found")
    if (kind, language) in OVER_BUDGET:
        assert segments(text) == Segments("UCS-2", segments(text).units, 3), text
        assert segments(text).units - 134 <= 2  # only the isolates are over
        assert f"{LRI}+15595551234{PDI}" in text
        assert all(part not in text for part in ("Carlos", "Elm St", "Toyota"))
    else:
        assert segments(text).count <= 2, text
    assert text.endswith(LINK)
    if kind != "cancel":
        assert "CA 7ABC123" in text


# Translated catalogs (the real ones are not translated yet): built here, in a folder of
# the test's own, from the templates' msgids.
SMS_TEMPLATES = ("alert.txt", "update.txt", "cancel.txt", "_details.txt")


def sms_msgids() -> list[str | tuple[str, str]]:
    """The msgids of the alert SMS templates, as `make messages` extracts them."""
    found: list[str | tuple[str, str]] = []
    for filename, _, message, comments, _ in extract_from_dir(
        str(ROOT / "templates" / "sms"),
        method_map=[("**.txt", "jinja2")],
        options_map={"**.txt": {"trimmed": "true"}},
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        if filename in SMS_TEMPLATES:
            assert comments, f"{message!r} has no translator comment"
            if message not in found:
                found.append(message)
    return found


ARABIC = {
    "TEST MESSAGE, not a real alert": "رسالة اختبار، ليست إنذارًا حقيقيًا",
    "AMBER Alert (%(agency)s)": "إنذار أمبر (%(agency)s)",
    "UPDATE: AMBER Alert (%(agency)s)": "تحديث: إنذار أمبر (%(agency)s)",
    "Missing: %(name)s, age %(age)s, and %(num)s other child": (
        "مفقود: %(name)s، العمر %(age)s، و%(num)s أطفال آخرين"
    ),
    "Missing: %(name)s and %(num)s other child": "مفقود: %(name)s و%(num)s أطفال آخرين",
    "Missing: %(name)s, age %(age)s": "مفقود: %(name)s، العمر %(age)s",
    "Missing: %(name)s": "مفقود: %(name)s",
    "Vehicle: %(vehicle)s, plate %(plate)s": "المركبة: %(vehicle)s، اللوحة %(plate)s",
    "Plate: %(plate)s": "اللوحة: %(plate)s",
    "Vehicle: %(vehicle)s": "المركبة: %(vehicle)s",
    "%(name)s: %(description)s": "%(name)s: %(description)s",
    "Suspect: %(name)s, %(description)s": "المشتبه به: %(name)s، %(description)s",
    "Suspect: %(suspect)s": "المشتبه به: %(suspect)s",
    "Last seen: %(place)s": "شوهد آخر مرة: %(place)s",
    "Heading: %(direction)s": "الاتجاه: %(direction)s",
    "Call 911 or %(phone)s": "اتصل بـ 911 أو %(phone)s",
    "CANCELLED: child found. AMBER Alert for %(names)s (%(agency)s) has ended. Thank you.": (
        "أُلغي: عُثر على الطفل. انتهى إنذار أمبر بشأن %(names)s (%(agency)s). شكرًا لكم."
    ),
    "CANCELLED: AMBER Alert for %(names)s (%(agency)s) has ended.": (
        "أُلغي: انتهى إنذار أمبر بشأن %(names)s (%(agency)s)."
    ),
    "The alert area has changed.": "تغيّرت منطقة الإنذار.",
    "The alert's end time has changed.": "تغيّر موعد انتهاء الإنذار.",
    "In %(language)s: %(text)s": "باللغة %(language)s: %(text)s",
    "More new details at the link below.": "مزيد من التفاصيل الجديدة في الرابط أدناه.",
}


def write_catalog(folder: Path, locale: str, translations: dict[str, str]) -> None:
    catalog = Catalog(locale=locale)
    for msgid in sms_msgids():
        singular = msgid[0] if isinstance(msgid, tuple) else msgid
        if singular not in translations:
            continue
        string = translations[singular]
        catalog.add(
            msgid, string=(string,) * catalog.num_plurals if isinstance(msgid, tuple) else string
        )
    target = folder / locale / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as stream:
        write_mo(stream, catalog)


@pytest.fixture
def translated_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app whose catalogs are Arabic (complete), Tagalog (one line) and German (broken)."""
    write_catalog(tmp_path, "ar", ARABIC)
    write_catalog(
        tmp_path,
        "fil",
        {"Missing: %(name)s, age %(age)s": "Nawawala: %(name)s, %(age)s taong gulang"},
    )
    write_catalog(tmp_path, "de", {"AMBER Alert (%(agency)s)": "AMBER-Alarm (%(behoerde)s)"})
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'haven.db'}"))
    with app.app_context():
        yield app


def test_every_sms_msgid_has_a_translator_comment_and_an_arabic_test_translation() -> None:
    singulars = {m[0] if isinstance(m, tuple) else m for m in sms_msgids()}
    assert singulars == set(ARABIC)


@pytest.mark.usefixtures("translated_app")
@pytest.mark.parametrize("budget", [2, 3])
def test_an_arabic_alert_is_arabic_and_fits_its_ucs2_budget(budget: int) -> None:
    text = sms(REALISTIC, "ar", budget=budget)
    counted = segments(text)
    assert counted.encoding == "UCS-2"
    assert counted.count <= budget
    assert text.startswith("إنذار أمبر (Chicago PD)\nمفقود: Sofia Ramirez، العمر 6")
    assert "CA 7ABC123" in text
    assert text.endswith(LINK)


@pytest.mark.usefixtures("translated_app")
def test_an_arabic_cancellation_reads_in_arabic() -> None:
    text = sms(REALISTIC, "ar", kind="cancel", cancel_reason="child_found")
    assert text == (
        f"أُلغي: عُثر على الطفل. انتهى إنذار أمبر بشأن Sofia Ramirez (Chicago PD). شكرًا لكم.\n{LINK}"
    )


@pytest.mark.usefixtures("translated_app")
def test_tagalog_reads_the_fil_catalog() -> None:
    assert "Nawawala: Sofia Ramirez, 6 taong gulang" in sms(REALISTIC, "tl")


@pytest.mark.usefixtures("translated_app")
def test_a_broken_translation_falls_back_to_english_rather_than_failing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="alerts.sms"):
        text = sms(REALISTIC, "de")
    assert text.startswith("AMBER Alert (Chicago PD)\n")
    assert "the de SMS templates failed" in caplog.text


@pytest.mark.usefixtures("context")
def test_rendering_does_not_change_the_alert_content() -> None:
    alert = long_alert()
    before = copy.deepcopy(alert)
    sms(alert, budget=1)
    assert alert == before


# Right to left: a phone number keeps its order ("+15595551234", never "15595551234+").


@pytest.mark.usefixtures("context")
@pytest.mark.parametrize("language", ["ar", "ckb", "ur", "fa"])
def test_a_right_to_left_message_isolates_the_phone_number_and_counts_the_isolates(
    language: str,
) -> None:
    text = sms(REALISTIC, language, budget=3)
    assert f"{LRI}+15595551234{PDI}" in text
    counted = segments(text)
    assert counted == reference_segments(text)
    assert counted.encoding == "UCS-2"
    assert counted.units == len(text.encode("utf-16-le")) // 2  # one unit per isolate
    _, body = render_channel(
        alert_content=REALISTIC, kind="alert", agency="Chicago PD", language=language, link=LINK
    )
    assert f"{LRI}+15595551234{PDI}" in body


@pytest.mark.usefixtures("context")
@pytest.mark.parametrize("language", ["en", "es", "zh", "vi"])
def test_a_left_to_right_message_has_no_isolates(language: str) -> None:
    text = sms(REALISTIC, language, budget=3)
    assert LRI not in text
    assert PDI not in text
    assert "+15595551234" in text
    if language in ("en", "es"):
        assert segments(text).encoding == "GSM-7"


@pytest.mark.usefixtures("context")
def test_a_plate_is_isolated_in_arabic_only_when_it_starts_with_a_digit() -> None:
    with_state = sms(REALISTIC, "ar", budget=3)
    assert "CA 7ABC123" in with_state
    assert f"{LRI}CA" not in with_state  # a letter first: it reads left to right as it is
    no_state = {**REALISTIC, "vehicle": {**REALISTIC["vehicle"], "plate_state": None}}
    assert f"{LRI}7ABC123{PDI}" in sms(no_state, "ar", budget=3)


@pytest.mark.usefixtures("translated_app")
def test_an_untranslated_right_to_left_message_is_latin_and_stays_gsm_without_isolates() -> None:
    text = sms(REALISTIC, "ur")  # the test catalogs have no Urdu: Haven's English labels
    assert text.startswith("AMBER Alert (Chicago PD)\n")
    assert LRI not in text
    assert segments(text).encoding == "GSM-7"
