"""`GET /metrics`: who may scrape it, what it counts, and that it keeps no trace of families."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from alerts.dispatch.service import record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher
from haven.db import get_session
from tests.factories import bearer, create_platform, create_subscribers, submit_case, video_hash
from tests.fakes.twilio_server import FakeTwilio

TOKEN = "metrics-token-for-tests"
OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}
LOOP = (41.8781, -87.6298)  # downtown Chicago, inside the default draft's Cook County area

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient, **headers: str) -> Samples:
    """Every sample of a scrape, by name and labels, read with the real text parser."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value, 0 when absent (a counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_without_a_token_metrics_answer_loopback_and_nobody_else(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 404


def test_a_forwarded_request_is_refused_even_from_loopback(client: FlaskClient) -> None:
    # A reverse proxy on the same host connects from loopback on everyone's behalf.
    response = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1}])
def test_behind_a_trusted_proxy_loopback_is_not_enough(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    spoofed = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert spoofed.status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"metrics_token": TOKEN}])
def test_with_a_token_set_only_its_bearer_may_scrape_from_anywhere(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401  # loopback alone is not enough now
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/metrics", headers=bearer(TOKEN), environ_base=OUTSIDER).status_code == 200


def test_a_case_submission_and_a_feed_poll_are_counted_with_their_labels(
    app: Flask, client: FlaskClient
) -> None:
    platform = create_platform(app)
    before = scrape(client)
    submit_case(client, [video_hash()])
    refused = client.post("/api/v1/takedown/cases", json={"hashes": []})
    assert refused.status_code in (400, 422)
    assert value(scrape(client), "haven_feed_lag_changes", platform=platform.name) == 1
    polled = client.get("/api/v1/feed/hashes", headers=bearer(platform.api_key))
    assert polled.status_code == 200
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("haven_takedown_case_submissions_total", outcome="accepted") == 1
    assert grew("haven_takedown_case_submissions_total", outcome="refused") == 1
    assert grew("haven_feed_polls_total", platform=platform.name) == 1
    assert value(after, "haven_feed_lag_changes", platform=platform.name) == 0
    cases = {"method": "POST", "route": "/api/v1/takedown/cases"}
    assert grew("haven_http_requests_total", **cases, status="201") == 1
    assert grew("haven_http_request_duration_seconds_count", **cases) == 2
    feed = {"method": "GET", "route": "/api/v1/feed/hashes", "status": "200"}
    assert grew("haven_http_requests_total", **feed) == 1


def test_an_unmatched_path_is_counted_without_its_path(client: FlaskClient) -> None:
    before = scrape(client)
    assert client.get("/no/such/page-12345").status_code == 404
    after = scrape(client)
    labels = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert (
        value(after, "haven_http_requests_total", **labels)
        - value(before, "haven_http_requests_total", **labels)
        == 1
    )
    assert not any("page-12345" in v for _, pairs in after for _, v in pairs)


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    """Twilio is the loopback fake."""
    return {
        **fake_twilio.settings(),
        "sms_rate_per_second": 500.0,
    }


def test_an_alert_sent_through_twilio_shows_in_the_backlog_and_the_send_latency(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    from tests.alerts.test_dispatch import approve

    create_subscribers(app, [("+13125550101", *LOOP), ("+13125550102", *LOOP)])
    before = scrape(client)
    approve(client, officers)
    queued = scrape(client)
    assert value(queued, "haven_dispatch_queue_depth", queue="jobs") == 1
    with app.app_context():
        # The worker's own steps, run here so the test waits on nothing.
        record_next_job(session=get_session(), audience=app.extensions["haven.audience"])
        recorded = scrape(client)
        assert value(recorded, "haven_dispatch_queue_depth", queue="jobs") == 0
        assert value(recorded, "haven_dispatch_queue_depth", queue="deliveries") == 2
        assert value(recorded, "haven_dispatch_deliveries", channel="sms", status="pending") == 2
        assert value(recorded, "haven_dispatch_oldest_due_seconds") >= 0
        send_due(app=app, session=get_session(), dispatcher=get_dispatcher(app))
    assert len(fake_twilio.messages) == 2
    after = scrape(client)
    assert value(after, "haven_dispatch_deliveries", channel="sms", status="queued") == 2
    assert value(after, "haven_dispatch_deliveries", channel="sms", status="pending") == 0
    assert value(after, "haven_dispatch_queue_depth", queue="deliveries") == 0
    assert value(after, "haven_dispatch_oldest_due_seconds") == 0
    sent = value(after, "haven_dispatch_send_seconds_count", channel="sms") - value(
        before, "haven_dispatch_send_seconds_count", channel="sms"
    )
    assert sent == 2
    slowest = value(after, "haven_dispatch_send_seconds_bucket", channel="sms", le="+Inf")
    assert slowest >= 2


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1, "metrics_token": TOKEN}])
def test_metrics_keep_no_address_user_agent_or_case_number_of_a_family(
    client: FlaskClient,
) -> None:
    family = {"REMOTE_ADDR": "198.51.100.23"}
    agent = "FamilyBrowser/7.7 (probe-ua-4242)"
    forwarded = "192.0.2.77"
    headers = {"User-Agent": agent, "X-Forwarded-For": forwarded}
    created = client.post(
        "/api/v1/takedown/cases",
        json={"hashes": [video_hash()]},
        headers=headers,
        environ_base=family,
    )
    assert created.status_code == 201
    body = created.get_json()
    number, pin = body["case_number"], {"X-Case-Pin": body["pin"], **headers}
    client.get(f"/api/v1/takedown/cases/{number}", headers=pin, environ_base=family)
    client.get(f"/api/v1/takedown/cases/{number}x", headers=pin, environ_base=family)
    client.get(f"/takedown/status?case={number}", headers=headers, environ_base=family)
    text = client.get("/metrics", headers=bearer(TOKEN)).get_data(as_text=True)
    assert 'route="/api/v1/takedown/cases/<case_number>"' in text
    for trace in ("198.51.100.23", forwarded, agent, "probe-ua-4242", number):
        assert trace not in text
    assert number.replace("-", "") not in text.replace("-", "")
