"""Reading CAP 1.2: real feeds, hostile and broken documents, and AMBER alerts made into drafts."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.cap import CapArea, CapError, CapInfo, CapMessage, render_cap
from alerts.cap_read import MAX_CAP_BYTES, ParsedCap, draft_from_cap, parse_cap
from alerts.schemas import AlertIn
from geo.areas import parse_area

DATA = Path(__file__).parents[1] / "data" / "cap"
SWISS = (DATA / "alertswiss-TEST-1163.xml").read_bytes()
CAP12 = 'xmlns="urn:oasis:names:tc:emergency:cap:1.2"'
SQUARE = "41.0,-88.0 42.0,-88.0 42.0,-87.0 41.0,-87.0 41.0,-88.0"

# --- real feeds: expected values read off each file by hand (grep), not by parse_cap ---

NOAA_WIND = "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
NOAA_SPS = "noaa-2.49.0.1.840.0.bde6c30c43ead9c23c42bea7977652a7de76d87d.002.1.xml"
REAL_FILES: dict[str, dict[str, Any]] = {
    "alertswiss-TEST-1163.xml": {
        "head": ("TEST-1163", "info@alertswiss.ch", "Test", "Alert", "en", "Cap Test Event"),
        "areas": [],
        "references": [("info@alertswiss.ch", "TEST-1163", "2025-06-21T08:07:50+02:00")],
    },
    "gdacs-cap_1001150.xml": {
        "head": (
            "GDACS_TC_1001150_2", "info-gdacs@gdacs.org", "Actual", "Alert", "en-US",
            "Tropical Cyclone",
        ),
        "areas": [("Polygon", 1, 0, []), ("Polygon", 1, 0, [])],
        "first_polygon": (158, "-28.224200905033705,179.99999999"),
        "last_polygon": (112, "-28.504999999999978,-178.2"),
        "points": (270, 158),
        "references": [],
    },
    NOAA_WIND: {
        "head": (
            "urn:oid:2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1",
            "w-nws.webmaster@noaa.gov", "Actual", "Update", "en-US", "High Wind Watch",
        ),
        "areas": [("Annette Island", 212, 0, [("SAME", "002198"), ("UGC", "AKZ332")])],
        "first_polygon": (152, "54.7933,-132.3946"),
        "last_polygon": (3972, "57.0975,-133.8879"),
        "points": (93040, 34066),
        "references": [(
            "w-nws.webmaster@noaa.gov",
            "urn:oid:2.49.0.1.840.0.f3549eda4cd4f74f2e1996ac7427d873548ba832.001.1",
            "2025-03-05T15:16:00-09:00",
        )],
    },
    NOAA_SPS: {
        "head": (
            "urn:oid:2.49.0.1.840.0.bde6c30c43ead9c23c42bea7977652a7de76d87d.002.1",
            "w-nws.webmaster@noaa.gov", "Actual", "Alert", "en-US", "Special Weather Statement",
        ),
        "areas": [(
            "Dorchester; Wicomico; Somerset; Inland Worcester", 18, 0,
            [("SAME", c) for c in ("024019", "024045", "024039", "024047")]
            + [("UGC", f"MDZ02{n}") for n in range(1, 5)],
        )],
        "first_polygon": (4, "38.1251,-76.0733"),
        "last_polygon": (6842, "38.6984,-75.8170"),
        "points": (8253, 6842),
        "references": [],
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_cap_files_parse_with_their_areas_and_references(name: str) -> None:
    expected = REAL_FILES[name]
    parsed = parse_cap((DATA / name).read_bytes())
    (info,) = parsed.infos
    head = (parsed.identifier, parsed.sender, parsed.status, parsed.msg_type)
    assert (*head, info.language, info.event) == expected["head"]
    areas = [(a.description, len(a.polygons), len(a.circles), a.geocodes) for a in info.areas]
    assert areas == expected["areas"]
    refs = [(r.sender, r.identifier, r.sent) for r in parsed.references]
    assert refs == [(s, i, dt.datetime.fromisoformat(t)) for s, i, t in expected["references"]]
    polygons = [p.split() for area in info.areas for p in area.polygons]
    if polygons:
        for points, (count, pair) in ((polygons[0], expected["first_polygon"]),
                                      (polygons[-1], expected["last_polygon"])):  # fmt: skip
            assert (len(points), points[0], points[-1]) == (count, pair, pair)
        assert (sum(map(len, polygons)), max(map(len, polygons))) == expected["points"]


def test_nws_event_codes_and_repeated_parameters_are_all_kept() -> None:
    (info,) = parse_cap((DATA / NOAA_WIND).read_bytes()).infos
    assert info.event_codes == {"SAME": ["HWA"], "NationalWeatherService": ["HWA"]}
    assert info.parameters["BLOCKCHANNEL"] == ["EAS", "NWEM", "CMAS"]
    assert info.expires == dt.datetime.fromisoformat("2025-03-06T07:00:00-09:00")


@pytest.mark.parametrize(
    ("name", "described"),
    [
        (NOAA_WIND, "a High Wind Watch (HWA)"),
        (NOAA_SPS, "a Special Weather Statement (SPS)"),
        ("gdacs-cap_1001150.xml", "a Tropical Cyclone"),
        ("alertswiss-TEST-1163.xml", "a Cap Test Event"),
    ],
)
def test_real_alerts_that_are_not_amber_are_refused_naming_the_event(
    name: str, described: str
) -> None:
    parsed = parse_cap((DATA / name).read_bytes())
    expected = (
        f"this CAP alert is {described}, not a child abduction; Haven accepts only AMBER alerts"
    )
    with pytest.raises(CapError) as caught:
        draft_from_cap(parsed)
    assert str(caught.value) == expected


# --- hostile and broken documents: each a CapError saying why, quickly ---


def billion_laughs() -> bytes:
    levels = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE alert [{"".join(levels)}]>\n'
        f"<alert {CAP12}><identifier>&l9;</identifier></alert>"
    ).encode()


DTD_REFUSED = "the CAP document contains a DTD/entity declaration, which is not accepted"
HOSTILE = {
    "billion laughs": (billion_laughs(), DTD_REFUSED),
    "external entity": (
        b'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + f"<alert {CAP12}><identifier>&xxe;</identifier></alert>".encode(),
        DTD_REFUSED,
    ),
    "external DTD": (
        b'<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">' + SWISS.split(b"?>", 1)[1],
        DTD_REFUSED,
    ),
    "wrong namespace": (
        SWISS.replace(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:example:alerts"),
        "the <alert> is in namespace urn:example:alerts; CAP 1.2 alerts are in "
        "urn:oasis:names:tc:emergency:cap:1.2",
    ),
    "no namespace": (
        SWISS.replace(b" " + CAP12.encode(), b""),
        "the <alert> is in no namespace",
    ),
    "CAP 1.1": (
        SWISS.replace(b"cap:1.2", b"cap:1.1"),
        "this is CAP 1.1 (urn:oasis:names:tc:emergency:cap:1.1); Haven accepts only CAP 1.2",
    ),
    "not an alert": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"/>',
        "the document is a <feed>, not a CAP 1.2 <alert>",
    ),
    "truncated": (
        SWISS[:300],
        "the CAP document is not well-formed XML: unclosed token at line 7, column 4",
    ),
    "missing identifier": (
        SWISS.replace(b"<identifier>TEST-1163</identifier>", b""),
        "the <alert> has no <identifier>, which CAP 1.2 requires",
    ),
    "bad reference": (
        SWISS.replace(b",TEST-1163,", b",TEST-1163;"),
        "the <references> entry 'info@alertswiss.ch,TEST-1163;2025-06-21T08:07:50+02:00' "
        "is not 'sender,identifier,sent'",
    ),
    "time without zone": (
        SWISS.replace(b"2025-06-21T08:07:00+02:00", b"2025-06-21T08:07:00"),
        "the <sent> time '2025-06-21T08:07:00' has no time zone offset",
    ),
    "too large": (b" " * (MAX_CAP_BYTES + 1), "the limit is"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_documents_raise_a_cap_error_saying_why(case: str) -> None:
    document, message = HOSTILE[case]
    started = time.perf_counter()
    with pytest.raises(CapError) as caught:
        parse_cap(document)
    assert time.perf_counter() - started < 0.5
    assert message in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.integers(0, len(SWISS)).map(lambda n: SWISS[:n])))
def test_any_bytes_either_parse_or_raise_a_cap_error(document: bytes) -> None:
    with contextlib.suppress(CapError):
        assert isinstance(parse_cap(document), ParsedCap)


# --- AMBER alerts from other systems become drafts ---

IPAWS_AMBER = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert {CAP12}>
  <identifier>IL-ISP-2026-0042</identifier>
  <sender>amber@isp.illinois.example</sender>
  <sent>2026-11-22T12:30:00-06:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <code>IPAWSv1.0</code>
  <info>
    <language>en-US</language>
    <category>Rescue</category>
    <event>Child Abduction Emergency</event>
    <responseType>Monitor</responseType>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <eventCode><valueName>SAME</valueName><value>CAE</value></eventCode>
    <expires>2026-11-23T12:30:00-06:00</expires>
    <senderName>Illinois State Police</senderName>
    <headline>AMBER Alert for Jane Doe, 7</headline>
    <description>Jane Doe, 7, brown hair, red jacket. Taken in a red Ford Focus.</description>
    <instruction>If you see her, call 911.</instruction>
    <contact>Illinois State Police, (217) 555-0123</contact>
    <parameter><valueName>EAS-ORG</valueName><value>CIV</value></parameter>
    <parameter><valueName>ChildName</valueName><value>Jane Doe</value></parameter>
    <area>
      <areaDesc>Sangamon County, IL</areaDesc>
      <polygon>{SQUARE}</polygon>
      <circle>39.78,-89.65 10</circle>
      <geocode><valueName>SAME</valueName><value>017167</value></geocode>
      <geocode><valueName>UGC</valueName><value>ILZ051</value></geocode>
      <geocode><valueName>FIPS6</valueName><value>17129</value></geocode>
    </area>
  </info>
  <info>
    <language>es-US</language>
    <category>Rescue</category>
    <event>Child Abduction Emergency</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <eventCode><valueName>SAME</valueName><value>CAE</value></eventCode>
    <expires>2026-11-23T12:30:00-06:00</expires>
    <instruction>Si la ve, llame al 911.</instruction>
    <area>
      <areaDesc>Sangamon County, IL</areaDesc>
      <polygon>{SQUARE}</polygon>
      <geocode><valueName>SAME</valueName><value>017167</value></geocode>
    </area>
  </info>
  <info>
    <language>yo-NG</language>
    <category>Rescue</category>
    <event>Child Abduction Emergency</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <eventCode><valueName>SAME</valueName><value>CAE</value></eventCode>
    <instruction>Pe 911.</instruction>
    <area><areaDesc>Sangamon County, IL</areaDesc><polygon>{SQUARE}</polygon></area>
  </info>
</alert>
"""


def draft_of(document: str | bytes) -> dict[str, Any]:
    raw = document.encode() if isinstance(document, str) else document
    return dict(draft_from_cap(parse_cap(raw)))


def assert_valid_alert_in(draft: dict[str, Any]) -> AlertIn:
    alert = AlertIn.model_validate({k: v for k, v in draft.items() if k != "skipped"})
    for area in alert.areas:
        parse_area(area.kind, area.source, area.description)
    return alert


def test_an_ipaws_amber_alert_becomes_a_draft_with_skipped_codes_listed() -> None:
    draft = draft_of(IPAWS_AMBER)
    assert draft["areas"] == [
        {"polygon": SQUARE, "description": "Sangamon County, IL"},
        {"circle": "39.78,-89.65 10", "description": "Sangamon County, IL"},
        {"same": "017167", "description": "Sangamon County, IL"},
        {"same": "017129", "description": "Sangamon County, IL"},
    ]
    assert draft["children"] == [
        {
            "name": "Jane Doe",
            "description": "Jane Doe, 7, brown hair, red jacket. Taken in a red Ford Focus.",
        }
    ]
    assert (draft["status"], draft["expires"]) == ("Actual", "2026-11-23T12:30:00-06:00")
    assert draft["contact_phone"] == "+12175550123"
    assert draft["texts"] == {"en": "If you see her, call 911.", "es": "Si la ve, llame al 911."}
    assert draft["skipped"] == [
        "geocode UGC 'ILZ051' of area 'Sangamon County, IL': "
        "Haven uses SAME (and FIPS6) codes only",
        "the yo-NG <info>: Haven has no such language",
    ]
    assert_valid_alert_in(draft)


def test_a_bare_cap_message_without_haven_parameters_becomes_a_draft_in_every_language() -> None:
    sent = dt.datetime(2026, 11, 22, 12, 30, tzinfo=dt.UTC)
    info = {
        "expires": sent + dt.timedelta(hours=6),
        "sender_name": "Springfield PD",
        "headline": "AMBER Alert",
        "description": "Jane Doe, 7.",
        "web": "https://haven.example/alerts/7",
        "contact": "+12175550123",
    }
    message = CapMessage(
        identifier="haven-7-1",
        sender="springfield-pd@haven.example",
        sent=sent,
        status="Exercise",
        msg_type="Alert",
        infos=[
            CapInfo(language=tag, instruction=f"call 911 ({tag})", **info)
            for tag in ("en-US", "es-US", "ar")
        ],
        areas=[CapArea("Sangamon", polygons=[SQUARE], geocodes=["017167"])],
    )
    draft = draft_of(render_cap(message))
    alert = assert_valid_alert_in(draft)
    assert alert.texts == {
        "en": "call 911 (en-US)",
        "es": "call 911 (es-US)",
        "ar": "call 911 (ar)",
    }
    assert (alert.status, alert.expires, alert.contact_phone) == (
        "Exercise",
        sent + dt.timedelta(hours=6),
        "+12175550123",
    )
    assert alert.children[0].name == "Unknown (see description)"
    assert draft["skipped"] == []


@pytest.mark.parametrize(
    "event", ["AMBER Alert", "amber alert", "Child Abduction", "Possible child abduction"]
)
def test_an_amber_alert_is_recognised_by_its_event_text_alone(event: str) -> None:
    document = IPAWS_AMBER.replace("<value>CAE</value>", "<value>CEM</value>")
    document = document.replace("Child Abduction Emergency", event)
    assert draft_of(document)["contact_phone"] == "+12175550123"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Child Abduction Emergency", "Chamber Collapse"), "is a Chamber Collapse (CEM)"),
        (("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>"), "a CAP Cancel message"),
        (("<status>Actual</status>", "<status>System</status>"), "the CAP status 'System'"),
        (("<expires>2026-11-23T12:30:00-06:00</expires>", ""), "has no <expires>"),
        (("(217) 555-0123", "dial 911"), "holds no valid phone number"),
        (("<contact>Illinois State Police, (217) 555-0123</contact>", ""), "has no <contact>"),
    ],
)
def test_an_alert_haven_cannot_use_is_refused_saying_why(
    change: tuple[str, str], message: str
) -> None:
    document = IPAWS_AMBER.replace(*change)
    if "Chamber" in change[1]:
        document = document.replace("<value>CAE</value>", "<value>CEM</value>")
    with pytest.raises(CapError, match=message.replace("(", r"\(").replace(")", r"\)")):
        draft_of(document)


def test_an_amber_alert_with_only_zone_codes_has_no_usable_area() -> None:
    document = SWISS.replace(b"Cap Test Event", b"AMBER Alert").replace(
        b"</info>",
        b"<expires>2026-11-23T12:30:00-06:00</expires><contact>217-555-0123</contact>"
        b"<area><areaDesc>Zone</areaDesc><geocode><valueName>UGC</valueName>"
        b"<value>ILZ051</value></geocode></area></info>",
    )
    with pytest.raises(CapError, match="no area Haven can use"):
        draft_of(document)


def test_long_texts_are_shortened_to_what_an_alert_holds() -> None:
    long = "x" * 3000
    document = IPAWS_AMBER.replace(
        "Jane Doe, 7, brown hair, red jacket. Taken in a red Ford Focus.", long
    ).replace("Sangamon County, IL", "S" * 400)
    draft = draft_of(document)
    description = draft["children"][0]["description"]
    assert (len(description), description[-1]) == (1000, "…")
    assert len(draft["areas"][0]["description"]) == 300
    assert_valid_alert_in(draft)
