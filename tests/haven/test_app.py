"""The service shell: health, JSON errors, and the guards every API route must pass."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from haven.db import Database
from haven.openapi import build_spec, is_api_path, openapi_path, operation_of


def test_healthz_answers_ok_when_the_database_is_reachable(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(
    app: Flask, client: FlaskClient
) -> None:
    app.extensions["haven.db"] = Database("sqlite:////nonexistent-dir/haven.db")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "database_unavailable"


def test_readyz_answers_503_while_the_audience_index_and_languages_load_then_200_when_ready(
    client: FlaskClient,
) -> None:
    loading = client.get("/readyz")  # the first probe starts the load in the background
    assert loading.status_code == 503
    assert loading.json == {
        "state": "loading",
        "components": {"audience": "loading", "counters": "ready", "languages": "loading"},
    }
    deadline = time.monotonic() + 1.0
    while (ready := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, ready.json
        time.sleep(0.01)
    assert ready.json == {
        "state": "ready",
        "components": {"audience": "ready", "counters": "ready", "languages": "ready"},
    }
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/takedown/cases", 405),
        ("GET", "/stopncii/v1/Nope", 404),
    ],
)
def test_api_errors_are_json_naming_the_problem(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.is_json
    assert set(response.json["error"]) >= {"code", "message"}
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/takedown/cases", {"POST", "OPTIONS"}),
        ("PUT", "/stopncii/v1/FetchHashes", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/takedown/", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_a_method_not_allowed_is_a_405_naming_the_allowed_methods(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_malformed_json_is_a_400_naming_it(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/takedown/cases", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"


def test_an_oversized_body_is_refused_with_413(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/takedown/cases",
        data="x" * (3 * 1024 * 1024),
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.is_json


def test_an_unexpected_failure_is_a_json_500_without_a_trace(app: Flask) -> None:
    @app.get("/api/v1/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal"
    assert "secret internals" not in response.get_data(as_text=True)


def test_every_api_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    rules = [r for r in app.url_map.iter_rules() if is_api_path(r.rule)]
    undocumented = [r.rule for r in rules if operation_of(app.view_functions[r.endpoint]) is None]
    assert undocumented == []
    spec = build_spec(app)
    routed = {
        (openapi_path(r.rule)[0], m.lower())
        for r in rules
        for m in (r.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert documented == routed


def test_the_openapi_document_is_served_as_3_1(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/takedown/cases" in spec["paths"]


def test_every_protected_api_route_refuses_a_request_without_credentials(
    app: Flask, client: FlaskClient
) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        operation = operation_of(app.view_functions[rule.endpoint])
        if operation is None or operation.auth in (None, "case_pin"):
            continue
        path = rule.rule
        for argument in rule.arguments:
            for pattern in (f"<{argument}>", f"<int:{argument}>", f"<dbid:{argument}>"):
                path = path.replace(pattern, "1")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            assert response.status_code in (401, 403), (method, rule.rule, response.status_code)
            checked += 1
    assert checked >= 5
