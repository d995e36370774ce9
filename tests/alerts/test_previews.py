"""What a draft would do before it is stored: the audience of unsaved areas (in all, per area,
per language), its SMS per language exactly as sent, and the checks creating it makes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from alerts.models import Alert
from alerts.sms import segments
from alerts.views import messages_out
from haven.db import get_session
from tests.alerts.test_alerts_api import (
    ALERTS,
    GARY,
    LOOP,
    SPRINGFIELD,
    act,
    approve,
    count,
    draft,
)
from tests.console.support import signed_in_client
from tests.factories import COOK_COUNTY, bearer, create_subscribers, draft_body

AREAS = "/api/v1/areas/audience"
COOK = {"same": COOK_COUNTY}
AROUND_SPRINGFIELD = {"circle": f"{SPRINGFIELD[0]},{SPRINGFIELD[1]} 5"}
AROUND_GARY = {"circle": f"{GARY[0]},{GARY[1]} 5"}


@pytest.fixture
def people(app: Flask) -> None:
    create_subscribers(app, [("+13125550101", *LOOP), ("+13125550102", *LOOP)])
    create_subscribers(app, [("+13125550103", *LOOP)], language="es")
    create_subscribers(app, [("+12175550201", *SPRINGFIELD)], language="ar")
    create_subscribers(app, [("+12195550202", *GARY)])


def post(client: FlaskClient, key: str, url: str, body: Any) -> Any:
    return client.post(url, json=body, headers=bearer(key))


def test_unsaved_areas_are_counted_in_all_per_area_and_per_language(
    client: FlaskClient, officers: dict[str, str], people: None
) -> None:
    response = post(client, officers["drafter"], AREAS, {"areas": [COOK, AROUND_SPRINGFIELD]})
    assert response.status_code == 200, response.json
    assert response.json == {
        "subscribers": 4,
        "areas": [{"subscribers": 3}, {"subscribers": 1}],
        "languages": {"en": 2, "es": 1, "ar": 1},
        "outside_jurisdiction": None,
    }
    assert count(client.application, Alert) == 0


def test_a_subscriber_in_two_areas_counts_once_in_the_total(
    client: FlaskClient, officers: dict[str, str], people: None
) -> None:
    loop = {"circle": f"{LOOP[0]},{LOOP[1]} 1"}
    counted = post(client, officers["drafter"], AREAS, {"areas": [COOK, loop]}).json
    assert counted["subscribers"] == 3
    assert counted["areas"] == [{"subscribers": 3}, {"subscribers": 3}]


def test_areas_reaching_outside_the_jurisdiction_are_counted_and_flagged(
    client: FlaskClient, officers: dict[str, str], people: None
) -> None:
    created = post(client, officers["drafter"], ALERTS, draft_body(areas=[COOK, AROUND_GARY]))
    assert created.status_code == 422
    error = created.json["error"]

    counted = post(client, officers["drafter"], AREAS, {"areas": [COOK, AROUND_GARY]}).json

    assert counted["subscribers"] == 4
    outside = counted["outside_jurisdiction"]
    assert outside is not None
    assert outside["message"] == error["message"]
    for key, value in (error.get("details") or {}).items():
        assert outside[key] == value


@pytest.mark.parametrize(
    "areas",
    [
        [{"polygon": "41.8,-87.6 41.9,-87.6"}],
        [{"circle": "41.8,-87.6 -3"}],
        [{"same": "999999"}],
        [{"same": COOK_COUNTY, "circle": "41.8,-87.6 3"}],
        [],
    ],
)
def test_bad_areas_get_the_same_error_as_creating_an_alert(
    client: FlaskClient, officers: dict[str, str], areas: list[dict[str, Any]]
) -> None:
    created = post(client, officers["drafter"], ALERTS, draft_body(areas=areas))
    counted = post(client, officers["drafter"], AREAS, {"areas": areas})
    assert counted.status_code == created.status_code == 422
    assert counted.json["error"]["code"] == created.json["error"]["code"]
    assert counted.json["error"]["message"].replace("body.", "") == created.json["error"][
        "message"
    ].replace("body.", "")


def test_the_preview_shows_each_language_the_audience_speaks_exactly_as_sent(
    app: Flask, client: FlaskClient, officers: dict[str, str], people: None
) -> None:
    body = draft_body(areas=[COOK, AROUND_SPRINGFIELD])
    alert = draft(client, officers["drafter"], areas=body["areas"])
    preview = post(client, officers["drafter"], f"{ALERTS}/preview?alert={alert['id']}", body)
    assert preview.status_code == 200, preview.json
    # Then the alert goes out as drafted: each preview is what dispatch renders.
    act(client, officers["drafter"], alert["id"], "submit")
    assert approve(client, officers["approver"], alert).status_code == 200
    settings = app.extensions["haven.settings"]
    with app.app_context():
        session = get_session()
        sent = messages_out(
            session=session,
            alert=session.get_one(Alert, alert["id"]),
            public_url=settings.public_url.rstrip("/"),
            budget=settings.sms_segment_budget,
        )

    shown = preview.json
    assert shown["subscribers"] == 4
    assert [(m["language"], m["subscribers"]) for m in shown["messages"]] == [
        ("en", 2),
        ("ar", 1),
        ("es", 1),
    ]
    for message in shown["messages"]:
        assert message["sms"] == sent[message["language"]]["sms"]
        cost = segments(message["sms"])
        assert message["characters"] == len(message["sms"])
        assert message["segments"] == cost.count == sent[message["language"]]["segments"]
        assert message["encoding"] == cost.encoding
    encodings = {m["language"]: m["encoding"] for m in shown["messages"]}
    assert encodings["en"] == "GSM-7"
    assert encodings["ar"] == "UCS-2"


def test_the_preview_of_an_unsaved_draft_shows_english_even_with_no_audience(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    preview = post(client, officers["drafter"], f"{ALERTS}/preview", draft_body())
    assert preview.status_code == 200, preview.json
    assert preview.json["subscribers"] == 0
    [english] = preview.json["messages"]
    assert (english["language"], english["subscribers"]) == ("en", 0)
    # The link names the id the draft would get when stored.
    assert english["sms"].rstrip().endswith("/a/1")
    draft(client, officers["drafter"])
    again = post(client, officers["drafter"], f"{ALERTS}/preview", draft_body()).json
    assert again["messages"][0]["sms"].rstrip().endswith("/a/2")
    assert count(client.application, Alert) == 1


BAD_DRAFTS: list[dict[str, Any]] = [
    {"expires": "2020-01-01T00:00:00+00:00"},
    {"areas": [AROUND_GARY]},
    {"areas": [{"polygon": "41.8,-87.6 41.9,-87.6"}]},
    {"contact_phone": "call us"},
    {"children": []},
    {"texts": {"xx": "unknown language"}},
    {"vehicle": {"plate_state": "ZZ"}},
]


@pytest.mark.parametrize("overrides", BAD_DRAFTS)
@pytest.mark.parametrize("route", ["check", "preview"])
def test_check_and_preview_refuse_a_bad_draft_exactly_as_creating_it_would(
    client: FlaskClient, officers: dict[str, str], overrides: dict[str, Any], route: str
) -> None:
    body = draft_body(**overrides)
    created = post(client, officers["drafter"], ALERTS, body)
    checked = post(client, officers["drafter"], f"{ALERTS}/{route}", body)
    assert created.status_code == 422
    assert (checked.status_code, checked.json) == (created.status_code, created.json)
    assert count(client.application, Alert) == 0


def test_check_accepts_a_good_draft_and_stores_nothing(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    checked = post(client, officers["drafter"], f"{ALERTS}/check", draft_body())
    assert (checked.status_code, checked.json) == (200, {"ok": True})
    assert count(client.application, Alert) == 0


def test_the_console_counts_areas_with_its_session_and_csrf_token(
    app: Flask, officers: dict[str, str], people: None
) -> None:
    console, csrf = signed_in_client(app, officers["drafter"])
    refused = console.post(AREAS, json={"areas": [COOK]})
    assert refused.status_code == 403
    counted = console.post(AREAS, json={"areas": [COOK]}, headers={"X-CSRF-Token": csrf})
    assert counted.json["subscribers"] == 3
