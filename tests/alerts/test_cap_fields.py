"""Haven's own CAP read back into Haven gives the alert it came from: the HAVEN-... parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import shapely
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from alerts.cap import CapMessage, haven_language, ipaws_problems, render_cap
from alerts.cap_fields import fields_from_parameters
from alerts.cap_read import draft_from_cap, parse_cap
from alerts.models import Alert, AlertVersion
from alerts.publish import cap_message
from alerts.schemas import US_STATES, AlertIn
from geo.areas import to_cap_polygons
from geo.circles import format_cap_circle
from haven.app import create_app
from haven.languages import LANGUAGES
from tests.alerts.test_cap import assert_valid_cap_and_ipaws
from tests.alerts.test_cap_read import IPAWS_AMBER, SQUARE
from tests.conftest import make_settings
from tests.factories import catalog_text, draft_body
from tests.geo.strategies import star_polygons

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SENT = dt.datetime(2026, 11, 22, 18, 30, tzinfo=dt.UTC)
IN_COOK = "41.7,-87.9 42.0,-87.9 42.0,-87.6 41.7,-87.9"
COOK_GEOJSON = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[-87.9, 41.7], [-87.8, 41.7], [-87.8, 41.8], [-87.9, 41.7]]],
        [[[-87.7, 41.9], [-87.6, 41.9], [-87.6, 42.0], [-87.7, 41.9]]],
    ],
}


def render(body: dict[str, Any]) -> bytes:
    """The CAP document of `body` sent as version 1, as `alerts.publish` renders it."""
    return render_cap(message(body))


def message(body: dict[str, Any]) -> CapMessage:
    """The CAP message of `body` sent as version 1, as `alerts.publish` makes it."""
    alert_in = AlertIn.model_validate(body)
    content = alert_in.model_dump(mode="json", exclude_none=True)  # as a draft is stored
    alert = Alert(
        id=7,
        agency_id=1,
        status=alert_in.status,
        state="active",
        revision=1,
        version=1,
        created_at=SENT,
        expires=alert_in.expires,
        content=content,
    )
    version = AlertVersion(
        alert_id=7, version=1, msg_type="Alert", sent_at=SENT, expires=alert_in.expires
    )
    return cap_message(
        alert=alert, agency="Chicago PD", versions=[version], public_url="https://haven.example"
    )


def round_trip(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Render `body` as CAP, check the document, read it back: the draft and what it skipped."""
    document = render(body)
    assert_valid_cap_and_ipaws(document)
    draft = dict(draft_from_cap(parse_cap(document)))
    skipped = draft.pop("skipped")
    return draft, skipped


def stored(body: dict[str, Any]) -> dict[str, Any]:
    """What Haven stores of a draft: validated, nulls left out."""
    return AlertIn.model_validate(body).model_dump(mode="json", exclude_none=True)


ALERTS = {
    "Chicago, as in the README": draft_body(expires="2026-11-23T06:30:00-06:00"),
    "every area form, two children, a photo": draft_body(
        expires="2026-11-23T06:30:00-06:00",
        areas=[
            {"polygon": IN_COOK, "description": "Loop"},
            {"circle": "41.85,-87.75 5"},
            {"geojson": COOK_GEOJSON, "description": "Two parks"},
            {"same": "017031", "description": "Cook County"},
        ],
        children=[
            {"name": "Jane Doe", "age": 7, "description": "red jacket"},
            {"name": "Sam Doe", "age": 0, "photo_url": "https://photos.example/sam.jpg"},
        ],
        suspects=[{"name": "John Roe"}, {"name": "Ann Roe", "description": "tall"}],
        last_seen={
            "at": "2026-11-22T12:30:00-06:00",
            "place": "Millennium Park, Chicago",
            "direction": "north on I-94",
        },
        texts={"es": "Llame al 911.", "zh": "请拨打911。", "ar": "اتصل بالرقم 911."},
    ),
    "a minimal Test alert": {
        "status": "Test",
        "expires": "2026-11-23T00:30:00+00:00",
        "areas": [{"same": "117031"}],
        "children": [{"name": "J"}],
        "contact_phone": "+12175550123",
    },
    "plate only, last seen without a place": draft_body(
        status="Exercise",
        expires="2026-11-23T06:30:00+05:30",
        vehicle={"plate": "abc 12-3"},
        last_seen={"at": "2026-11-22T23:59:59-04:00"},
        suspects=[],
        texts={},
    ),
    "heading only, with nothing else of the sighting": draft_body(
        expires="2026-11-23T06:30:00-06:00",
        last_seen={"direction": "west toward Oak Park, IL — fast"},
    ),
}


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_havens_own_cap_read_back_is_the_alert_it_came_from(name: str) -> None:
    body = ALERTS[name]
    draft, skipped = round_trip(body)
    assert skipped == []
    assert AlertIn.model_validate(draft) == AlertIn.model_validate(body)
    assert stored(draft) == stored(body)


def test_a_distributor_reads_each_field_from_its_own_parameter() -> None:
    document = render(ALERTS["every area form, two children, a photo"])
    infos = etree.fromstring(document).findall(f"{CAP}info")
    for info in infos:  # every language repeats them
        parameters = [
            (p.findtext(f"{CAP}valueName"), p.findtext(f"{CAP}value"))
            for p in info.findall(f"{CAP}parameter")
        ]
        names = dict(parameters)
        assert names["HAVEN-child-1-name"] == "Jane Doe"
        assert names["HAVEN-child-2-age"] == "0"
        assert names["HAVEN-child-2-photo-url"] == "https://photos.example/sam.jpg"
        assert names["HAVEN-suspect-2-description"] == "tall"
        assert names["HAVEN-vehicle-plate"] == "ABC1234"
        assert names["HAVEN-vehicle-plate-state"] == "IL"
        assert names["HAVEN-last-seen-at"] == "2026-11-22T12:30:00-06:00"
        assert names["HAVEN-last-seen-place"] == "Millennium Park, Chicago"
        assert names["HAVEN-last-seen-direction"] == "north on I-94"
        assert [names[f"HAVEN-area-{n}-kind"] for n in (1, 2, 3, 4)] == [
            "polygon",
            "circle",
            "geojson",
            "same",
        ]
        assert names["HAVEN-area-2-areaDesc"] == "generated"
        assert "HAVEN-area-1-areaDesc" not in names
    texts = {info.findtext(f"{CAP}language"): info for info in infos}
    assert "HAVEN-text" not in {p.findtext(f"{CAP}valueName") for p in texts["en-US"]}
    spanish = texts["es-US"].findall(f"{CAP}parameter")
    assert ("HAVEN-text", "Llame al 911.") in [
        (p.findtext(f"{CAP}valueName"), p.findtext(f"{CAP}value")) for p in spanish
    ]


@pytest.fixture(scope="module")
def rendering_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app for its catalogs (no database use)."""
    folder = tmp_path_factory.mktemp("cap")
    return create_app(make_settings(f"sqlite:///{folder / 'haven.db'}"))


def test_the_description_for_people_gives_the_direction_of_travel_in_each_language(
    rendering_app: Flask,
) -> None:
    with rendering_app.app_context():
        document = render(ALERTS["every area form, two children, a photo"])
        plain = render(draft_body(expires="2026-11-23T06:30:00-06:00"))
    assert len(etree.fromstring(document).findall(f"{CAP}info")) == 4
    for info in etree.fromstring(document).findall(f"{CAP}info"):
        language = haven_language(info.findtext(f"{CAP}language") or "")
        assert language is not None
        lines = (info.findtext(f"{CAP}description") or "").splitlines()
        heading = catalog_text(language, "Heading: %(direction)s")
        assert [line for line in lines if "north on I-94" in line] == [
            line for line in lines if heading in line
        ]
        assert len([line for line in lines if "north on I-94" in line]) == 1, language
    without = etree.fromstring(plain).find(f"{CAP}info")
    assert "Heading" not in (without.findtext(f"{CAP}description") or "")
    assert "HAVEN-last-seen-direction" not in {
        p.findtext(f"{CAP}valueName") for p in without.findall(f"{CAP}parameter")
    }


def test_a_blank_direction_from_another_sender_says_nothing() -> None:
    parameters = {
        "HAVEN-child-1-name": ["Ana"],
        "HAVEN-last-seen-place": ["Navy Pier"],
        "HAVEN-last-seen-direction": ["  "],
    }
    skipped: list[str] = []
    assert fields_from_parameters(parameters, skipped)["last_seen"] == {"place": "Navy Pier"}
    parameters["HAVEN-last-seen-direction"] = ["north " * 30]
    direction = fields_from_parameters(parameters, skipped)["last_seen"]["direction"]
    assert len(direction) == 120
    assert direction.endswith("…")
    assert skipped == []


def test_every_area_of_havens_cap_carries_the_same_codes_of_its_counties() -> None:
    document = render(ALERTS["every area form, two children, a photo"])
    info = etree.fromstring(document).find(f"{CAP}info")
    codes = [
        [g.findtext(f"{CAP}value") for g in area.findall(f"{CAP}geocode")]
        for area in info.findall(f"{CAP}area")
    ]
    assert codes == [["017031"], ["017031"], ["017031"], ["017031"]]
    chicago_and_dupage = draft_body(areas=[{"circle": "41.85,-87.92 3"}, {"same": "117031"}])
    info = etree.fromstring(render(chicago_and_dupage)).find(f"{CAP}info")
    codes = [
        [g.findtext(f"{CAP}value") for g in area.findall(f"{CAP}geocode")]
        for area in info.findall(f"{CAP}area")
    ]
    assert codes == [["017031", "017043"], ["117031"]]  # a SAME area keeps its own code


def test_havens_cap_lacks_nothing_ipaws_asks_unless_an_area_covers_no_county() -> None:
    body = ALERTS["every area form, two children, a photo"]
    assert ipaws_problems(message(body)) == []
    on_the_lake = body | {"areas": [*body["areas"], {"circle": "42.0,-87.3 5"}]}
    assert ipaws_problems(message(on_the_lake)) == [
        "the area 'Area 5' has no SAME geocode, which EAS needs"
    ]


def test_a_cap_alert_without_havens_parameters_still_imports_as_before() -> None:
    draft = dict(draft_from_cap(parse_cap(IPAWS_AMBER.encode())))
    assert sorted(draft) == [
        "areas",
        "children",
        "contact_phone",
        "expires",
        "skipped",
        "status",
        "texts",
    ]
    assert draft["children"][0]["name"] == "Jane Doe"  # its ChildName parameter
    assert draft["texts"]["en"] == "If you see her, call 911."  # its instruction
    assert {"polygon": SQUARE, "description": "Sangamon County, IL"} in draft["areas"]


def test_havens_parameters_from_another_sender_are_used_and_bad_values_listed() -> None:
    extra = (
        "<parameter><valueName>HAVEN-child-1-name</valueName><value>Ana</value></parameter>"
        "<parameter><valueName>HAVEN-child-1-age</valueName><value>seven</value></parameter>"
        "<parameter><valueName>HAVEN-child-2-age</valueName><value>4</value></parameter>"
        "<parameter><valueName>HAVEN-vehicle-color</valueName><value>green</value></parameter>"
        "<parameter><valueName>HAVEN-last-seen-at</valueName><value>noon</value></parameter>"
        "<parameter><valueName>HAVEN-area-1-kind</valueName><value>polygon</value></parameter>"
    )
    document = IPAWS_AMBER.replace(
        "<parameter><valueName>ChildName</valueName><value>Jane Doe</value></parameter>", extra
    )
    draft = dict(draft_from_cap(parse_cap(document.encode())))
    assert draft["children"] == [{"name": "Ana"}]
    assert draft["vehicle"] == {"color": "green"}
    assert "last_seen" not in draft
    # Area 1 of 1 in its main <info> is a polygon; the geocodes of that area are not its own.
    assert draft["areas"] == [{"polygon": SQUARE, "description": "Sangamon County, IL"}]
    assert draft["texts"] == {}  # no HAVEN-text: the instructions were no officer's text
    assert draft["skipped"][:3] == [
        "parameter HAVEN-child-1-age 'seven': not a number",
        "parameter HAVEN-child-2-...: the child has no name",
        "parameter HAVEN-last-seen-at: 'noon' is not a date and time",
    ]


# --- any alert: hypothesis over the input schema ---

TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co"), include_characters="\n\t"
    ),
    min_size=1,
).filter(lambda text: text.strip() != "")


def texts(max_size: int) -> st.SearchStrategy[str]:
    return TEXT.map(lambda text: text[:max_size]).filter(lambda text: text.strip() != "")


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


OFFSETS = st.integers(-12 * 4, 14 * 4).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))
MOMENTS = st.builds(
    lambda seconds, zone: (SENT + dt.timedelta(seconds=seconds)).astimezone(zone).isoformat(),
    st.integers(-86_400 * 3, 86_400),
    OFFSETS,
)


@st.composite
def areas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["polygon", "circle", "geojson", "same"]))
    if kind == "polygon":
        source: Any = to_cap_polygons(draw(star_polygons()))[0]
    elif kind == "circle":
        lat, lon = draw(st.floats(30.0, 45.0)), draw(st.floats(-120.0, -75.0))
        source = format_cap_circle(round(lat, 4), round(lon, 4), draw(st.sampled_from([0.5, 8])))
    elif kind == "geojson":
        parts = draw(st.lists(star_polygons(), min_size=1, max_size=2))
        geometry = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        polygons = shapely.get_parts(geometry)
        rings = [
            [[[float(x), float(y)] for x, y in shapely.get_coordinates(p.exterior)]]
            for p in polygons
        ]
        kind_name = "Polygon" if len(rings) == 1 else "MultiPolygon"
        source = {"type": kind_name, "coordinates": rings[0] if len(rings) == 1 else rings}
        if any(shapely.get_num_interior_rings(p) for p in polygons):
            source = {"type": "Polygon", "coordinates": rings[0]}
    else:
        source = draw(st.sampled_from(["017031", "048201", "117031", "051775", "002198"]))
    area = {kind: source}
    description = draw(optional(texts(300)))
    return area if description is None else area | {"description": description}


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


CHILDREN = st.builds(
    lambda name, age, description, photo: without_none(
        {"name": name, "age": age, "description": description, "photo_url": photo}
    ),
    texts(200),
    optional(st.integers(0, 20)),
    optional(texts(1000)),
    optional(st.sampled_from(["https://photos.example/a.jpg", "http://x.example/p?id=1"])),
)
SUSPECTS = st.builds(
    lambda name, description: without_none({"name": name, "description": description}),
    optional(texts(200)),
    optional(texts(1000)),
)
VEHICLES = st.builds(
    lambda make, model, color, plate, state: without_none(
        {"make": make, "model": model, "color": color, "plate": plate, "plate_state": state}
    ),
    optional(texts(60)),
    optional(texts(60)),
    optional(texts(40)),
    optional(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 \-]{0,15}", fullmatch=True)),
    optional(st.sampled_from(sorted(US_STATES))),
)
LAST_SEEN = st.builds(
    lambda at, place, direction: without_none({"at": at, "place": place, "direction": direction}),
    optional(MOMENTS),
    optional(texts(300)),
    optional(texts(120)),
)
BODIES = st.builds(
    lambda status, expires, areas, children, suspects, vehicle, last_seen, phone, texts: (
        without_none(
            {
                "status": status,
                "expires": expires,
                "areas": areas,
                "children": children,
                "suspects": suspects,
                "vehicle": vehicle,
                "last_seen": last_seen,
                "contact_phone": phone,
                "texts": texts,
            }
        )
    ),
    st.sampled_from(["Actual", "Exercise", "Test"]),
    MOMENTS,
    st.lists(areas(), min_size=1, max_size=3),
    st.lists(CHILDREN, min_size=1, max_size=3),
    st.lists(SUSPECTS, max_size=3),
    optional(VEHICLES),
    optional(LAST_SEEN),
    st.sampled_from(["+18005551234", "+12175550123", "+442071838750"]),
    st.dictionaries(st.sampled_from(LANGUAGES), texts(1000), max_size=4),
)


def carried(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as CAP carries it: a suspect, vehicle or sighting with no field set says
    nothing and is left out (docs/cap.md)."""
    result = dict(body)
    result["suspects"] = [s for s in body.get("suspects", []) if s]
    for name in ("vehicle", "last_seen"):
        if not result.get(name):
            result.pop(name, None)
    return result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_any_alert_survives_the_round_trip_through_havens_cap(body: dict[str, Any]) -> None:
    draft, skipped = round_trip(body)
    assert skipped == []
    assert AlertIn.model_validate(draft) == AlertIn.model_validate(carried(body))
