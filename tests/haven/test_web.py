"""The edge every request passes: bounded ids, no NUL character, no deep JSON, no 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from haven.db import get_session
from haven.errors import HavenError
from haven.web import MAX_DB_ID, MAX_JSON_DEPTH, DbIdConverter, check_json_depth, load_json
from takedown.models import Case
from tests.factories import image_hashes

ANONYMOUS_JSON_ROUTES = ["/api/v1/takedown/cases", "/api/v1/subscriptions/channels"]


def nested(depth: int) -> bytes:
    """A JSON value `depth` arrays deep."""
    return b"[" * depth + b"]" * depth


def cases(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(Case)) or 0


# load_json and check_json_depth


def test_json_nested_to_the_limit_is_read() -> None:
    assert load_json(nested(MAX_JSON_DEPTH)) is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000, 1_000_000])
def test_json_nested_deeper_than_the_limit_is_refused_without_recursing(depth: int) -> None:
    with pytest.raises(HavenError, match="nested more than") as refused:
        load_json(nested(depth))
    assert refused.value.code == "too_deeply_nested"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"note": "[" * 1000, "escaped": '\\"[[[' * 100}).encode()
    check_json_depth(text)
    assert load_json(text)["note"] == "[" * 1000


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"a": "x\x00"}, "a:"),
        ({"a": [{"b": "\x00"}]}, "a.0.b:"),
        (["ok", "\x00"], "1:"),
        ("\x00", "body:"),
        ({"a\x00": 1}, "a\x00 (a key):"),
    ],
)
def test_a_nul_character_anywhere_is_refused_naming_where(body: Any, where: str) -> None:
    with pytest.raises(HavenError) as refused:
        load_json(json.dumps(body).encode())
    assert refused.value.code == "nul_character"
    assert refused.value.message.startswith(where)


@pytest.mark.parametrize("text", [b"NaN", b"[Infinity]", b'{"x": -Infinity}', b"{", b"\xff"])
def test_what_is_not_strict_json_is_malformed(text: bytes) -> None:
    with pytest.raises(HavenError) as refused:
        load_json(text)
    assert refused.value.code == "malformed_json"


def test_the_dbid_converter_takes_exactly_the_databases_ids() -> None:
    from werkzeug.routing import Map, ValidationError

    converter = DbIdConverter(Map())
    assert converter.to_python(str(MAX_DB_ID)) == MAX_DB_ID
    for value in ("0", str(MAX_DB_ID + 1), "9" * 5000):
        with pytest.raises(ValidationError):
            converter.to_python(value)


# Every route benefits


def test_no_route_takes_an_unbounded_integer(app: Flask) -> None:
    unbounded = [rule.rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert unbounded == []


@pytest.mark.parametrize("path", ANONYMOUS_JSON_ROUTES)
def test_anonymous_json_routes_refuse_deep_nesting_with_a_400(
    client: FlaskClient, path: str
) -> None:
    response = client.post(path, data=nested(200_000), content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "too_deeply_nested"


def test_a_nul_character_in_a_takedown_case_is_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient
) -> None:
    hashes = image_hashes()
    hashes[0]["value"] = "\x00" + hashes[0]["value"][1:]
    response = client.post("/api/v1/takedown/cases", json={"hashes": hashes})
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("hashes.0.value:")
    assert cases(app) == 0


def test_a_nul_character_in_a_channel_subscription_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/subscriptions/channels", json={"url": "json://example.com/\x00", "zips": []}
    )
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("url:")


@pytest.mark.parametrize(
    ("method", "path", "form", "where"),
    [
        ("GET", "/api/v1/takedown/cases/AB%00CD", None, "the URL (case_number)"),
        ("GET", "/alerts?lang=%00", None, "query parameter 'lang'"),
        ("GET", "/api/v1/feed/hashes?cursor=1%002", None, "query parameter 'cursor'"),
        ("POST", "/alerts/subscribe", {"phone": "+1312555\x000101"}, "form field 'phone'"),
        ("POST", "/webhooks/twilio/inbound", {"Body": "STOP\x00"}, "form field 'Body'"),
    ],
)
def test_a_nul_character_in_a_url_query_or_form_is_refused_naming_where(
    client: FlaskClient, method: str, path: str, form: dict[str, str] | None, where: str
) -> None:
    response = client.open(path, method=method, data=form)
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith(where)
