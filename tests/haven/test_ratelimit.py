"""Rate limits when the counter store fails: a clear 503 with Retry-After, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from haven.app import create_app
from haven.db import Database
from haven.ratelimit import Backoff, CounterStoreUnavailable, Throttle
from tests.conftest import make_settings, require
from tests.factories import submit_case, video_hash
from tests.fakes.redis_server import RedisServer

CASES = "/api/v1/takedown/cases"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own (required under CI=true)."""
    try:
        server = RedisServer()
    except FileNotFoundError as exc:
        require("redis-server", str(exc))
    with server:
        yield server


@pytest.fixture
def app_on_redis(database_url: str, redis_server: RedisServer) -> Iterator[Flask]:
    """An app whose counters and broker are `redis_server`."""
    app = create_app(
        make_settings(database_url, redis_url=redis_server.url, broker_url=redis_server.url)
    )
    yield app
    database: Database = app.extensions["haven.db"]
    database.dispose()


def assert_store_down_refusal(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "30"
    assert response.json is not None
    assert response.json["error"]["code"] == "counter_store_unavailable"
    assert "try again in 30 seconds" in response.json["error"]["message"]


def test_rate_limited_routes_answer_503_with_retry_after_while_redis_is_down(
    app_on_redis: Flask, redis_server: RedisServer
) -> None:
    client = app_on_redis.test_client()
    created = submit_case(client, [video_hash()])  # the control: with Redis up, it works
    number, pin = created["case_number"], created["pin"]
    redis_server.stop()
    for response in [
        client.post(CASES, json={"hashes": [video_hash()]}),
        client.get(f"{CASES}/{number}", headers={"X-Case-Pin": pin}),
        client.post(f"{CASES}/{number}/withdraw", headers={"X-Case-Pin": pin}),
        client.post(
            "/api/v1/subscriptions/channels",
            json={"url": "json://127.0.0.1:1/hook", "zips": ["60601"]},
        ),
    ]:
        assert_store_down_refusal(response)


def test_readyz_reports_the_counter_store_and_the_broker_and_healthz_stays_ok(
    app_on_redis: Flask, redis_server: RedisServer
) -> None:
    client = app_on_redis.test_client()
    up = client.get("/readyz").json
    assert up is not None
    assert up["components"]["counters"] == up["components"]["broker"] == "ready"
    redis_server.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json is not None
    assert down.json["components"]["counters"] == "unavailable"
    assert down.json["components"]["broker"] == "unavailable"
    assert client.get("/healthz").status_code == 200  # liveness: the database alone


def test_memory_counters_are_always_ready_and_no_broker_is_reported_without_one(
    client: FlaskClient,
) -> None:
    components = client.get("/readyz").json["components"]
    assert components["counters"] == "ready"
    assert "broker" not in components


def test_the_pin_throttle_refuses_with_503_while_redis_is_down_never_an_unmetered_guess(
    redis_server: RedisServer,
) -> None:
    throttle = Throttle(redis_server.url, "test-secret")
    subjects = [
        ("case:K7M3QT9AX:client:192.0.2.1", Backoff(free=5, first_wait=1, max_wait=1), True)
    ]
    throttle.settle_guess(throttle.admit_guess("case-pin", subjects), right=False)  # Redis up
    redis_server.stop()
    with pytest.raises(CounterStoreUnavailable) as refused:
        throttle.admit_guess("case-pin", subjects)
    assert refused.value.status == 503
    assert refused.value.retry_after == 30
