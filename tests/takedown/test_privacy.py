"""No takedown route stores or logs anything that identifies the person who submitted."""

from __future__ import annotations

import datetime
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from requests.adapters import HTTPAdapter
from sqlalchemy import DateTime, select

from haven.db import Base, UTCDateTime, get_session
from haven.privacy import ANONYMOUS_BLUEPRINTS, anonymous_prefix
from takedown.service import PlatformCredentials
from tests.factories import bearer, free_port, image_hashes, submit_case, video_hash

ADDRESS = "10.77.66.55"
USER_AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) HavenPrivacyProbe/7.3"
ENVIRON = {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": USER_AGENT}


def everything_stored(app: Flask) -> str:
    """Every value of every row of every table, as one string."""
    with app.app_context():
        session = get_session()
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in session.execute(select(table)).all()
        )


def use_every_takedown_route(client: FlaskClient, platform: PlatformCredentials) -> None:
    headers = {"User-Agent": USER_AGENT, "Cookie": "tracker=abc; lang=es"}
    created = client.post(
        "/api/v1/takedown/cases",
        json={"hashes": [*image_hashes(1), video_hash()]},
        headers=headers,
        environ_base=ENVIRON,
    ).json
    number, pin = created["case_number"], created["pin"]
    for path, method, pin_sent in [
        (f"/api/v1/takedown/cases/{number}", "GET", pin),
        (f"/api/v1/takedown/cases/{number}", "GET", "WRONG-PIN00"),
        (f"/api/v1/takedown/cases/{number}/withdraw", "POST", pin),
    ]:
        response = client.open(
            path, method=method, headers={**headers, "X-Case-Pin": pin_sent}, environ_base=ENVIRON
        )
        assert "Set-Cookie" not in response.headers
    client.post(
        "/api/v1/takedown/cases", json={"hashes": ["bad"]}, headers=headers, environ_base=ENVIRON
    )
    client.get("/api/v1/feed/hashes", headers=bearer(platform.api_key))


def test_no_address_user_agent_or_cookie_is_stored_or_logged(
    app: Flask, client: FlaskClient, platform: PlatformCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        use_every_takedown_route(client, platform)
        # A control: a non-anonymous route from the same client is logged with its address,
        # so the search below would find the address if a takedown route leaked it.
        client.get("/healthz", environ_base=ENVIRON)
    control = [r for r in caplog.records if "/healthz" in r.getMessage()]
    assert control
    assert ADDRESS in control[0].getMessage()
    takedown_logs = "\n".join(r.getMessage() for r in caplog.records if r not in control)
    assert "/api/v1/takedown/cases" in takedown_logs  # the access log did run
    stored = everything_stored(app)
    for trace in (ADDRESS, USER_AGENT, "HavenPrivacyProbe", "tracker"):
        assert trace not in stored
        assert trace not in takedown_logs


def test_access_log_names_the_route_not_the_case_number(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    created = submit_case(client, [video_hash()])
    with caplog.at_level(logging.INFO, logger="haven.access"):
        client.get(
            f"/api/v1/takedown/cases/{created['case_number']}",
            headers={"X-Case-Pin": created["pin"]},
        )
    logged = caplog.text
    assert "/api/v1/takedown/cases/<case_number>" in logged
    assert created["case_number"] not in logged
    assert created["case_number"].replace("-", "") not in logged


# Paths under the anonymous prefixes that match no route; each holds a case number.
UNROUTED = [
    ("GET", "/api/v1/takedown/cases/{number}/withdraw", 405),  # withdraw is POST only
    ("GET", "/api/v1/takedown/cases/{number}/", 404),  # a trailing slash
    ("GET", "/takedown/status/{number}", 404),  # the status page takes no number in its path
    ("GET", "/api/v1//takedown/cases/{number}", 308),  # Werkzeug redirects to one slash
    ("GET", "/API/v1/takedown/cases/{number}", 404),  # the prefix in other letter case
]


def traces_of(number: str) -> tuple[str, ...]:
    """What a log line must not hold for a request about case `number`."""
    return (number, number.replace("-", ""), ADDRESS, USER_AGENT)


@pytest.mark.parametrize(("method", "path", "status"), UNROUTED)
def test_a_takedown_path_that_matches_no_route_is_logged_without_address_or_case_number(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, method: str, path: str, status: int
) -> None:
    number = submit_case(client, [video_hash()])["case_number"]
    with caplog.at_level(logging.DEBUG):
        response = client.open(
            path.format(number=number),
            method=method,
            headers={"User-Agent": USER_AGENT},
            environ_base=ENVIRON,
        )
        # A control: an unrouted path outside the anonymous prefixes keeps its address.
        client.get(f"/nothing-here/{number}", environ_base=ENVIRON)
    assert response.status_code == status
    control = [r for r in caplog.records if "/nothing-here/" in r.getMessage()]
    assert control
    assert ADDRESS in control[0].getMessage()
    logged = "\n".join(r.getMessage() for r in caplog.records if r not in control)
    for trace in traces_of(number):
        assert trace not in logged
    assert f"{method} <unrouted " in logged  # the access log did run
    assert response.headers.get("Cache-Control") == "no-store"
    assert response.headers.get("Referrer-Policy") == "no-referrer"


@pytest.mark.parametrize(
    "path", ["/takedown/faq", "/takedown/privacy", "/takedown/platforms", "/takedown/"]
)
def test_the_pages_about_the_service_are_anonymous(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.get(
            path,
            headers={"User-Agent": USER_AGENT, "Cookie": "tracker=abc; lang=es"},
            environ_base=ENVIRON,
        )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers.get("Cache-Control") == "no-store"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    logged = caplog.text
    assert f"GET {path} 200" in logged  # the access log did run
    for trace in (ADDRESS, USER_AGENT, "tracker"):
        assert trace not in logged


def test_every_route_of_an_anonymous_blueprint_is_anonymous_by_its_path(app: Flask) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint in ANONYMOUS_BLUEPRINTS or rule.endpoint == "static":
            assert anonymous_prefix(rule.rule) is not None, (rule.rule, blueprint)
            checked += 1
    assert checked >= 10


def test_stored_times_are_no_finer_than_an_hour(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    use_every_takedown_route(client, platform)
    item = video_hash()
    submit_case(client, [item])
    client.get("/api/v1/feed/hashes", headers=bearer(platform.api_key))
    feedback = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "md5", "value": item["value"], "outcome": "removed"},
        headers=bearer(platform.api_key),
    )
    assert feedback.status_code == 204
    checked = 0
    with app.app_context():
        session = get_session()
        for table in Base.metadata.sorted_tables:
            if not table.name.startswith("takedown_"):
                continue
            columns = [c for c in table.columns if isinstance(c.type, UTCDateTime | DateTime)]
            for row in session.execute(select(*columns)).all() if columns else []:
                for moment in row:
                    if moment is not None:
                        assert isinstance(moment, datetime.datetime)
                        assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
                        checked += 1
    assert checked >= 5


@pytest.mark.redis
def test_rate_limit_counters_in_redis_hold_no_address(database_url: str, redis_url: str) -> None:
    import redis

    from haven.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url, redis_url=redis_url))
    client = app.test_client()
    client.post("/api/v1/takedown/cases", json={"hashes": [video_hash()]}, environ_base=ENVIRON)
    store = redis.Redis.from_url(redis_url)
    keys = list(store.scan_iter("LIMITS*"))
    assert keys, "the limiter wrote no counter"
    for key in keys:
        assert ADDRESS.encode() not in key
        assert store.pttl(key) != -1  # every counter expires (-2: already gone)


class _FromAddress(HTTPAdapter):
    """Connects from a chosen loopback source address, so it can be searched for."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`haven serve` (gunicorn) in a subprocess on SQLite, with its output in a file; shared by
    this module's tests (it takes seconds to start), so each reads only what it added."""
    tmp_path = tmp_path_factory.mktemp("production-server")
    env = {**os.environ, "HAVEN_DATABASE_URL": f"sqlite:///{tmp_path / 'haven.db'}"}
    haven = [sys.executable, "-m", "haven.cli"]
    subprocess.run([*haven, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*haven, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base, log
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_production_server_logs_no_address_for_takedown_routes(
    production_server: tuple[str, Path],
) -> None:
    base, log = production_server
    start = len(log.read_text())
    source = "127.13.57.91"
    http = requests.Session()
    http.mount("http://", _FromAddress(source))
    http.headers["User-Agent"] = USER_AGENT
    created = http.post(f"{base}/api/v1/takedown/cases", json={"hashes": [video_hash()]})
    assert created.status_code == 201
    number = created.json()["case_number"]
    http.get(f"{base}/api/v1/takedown/cases/{number}", headers={"X-Case-Pin": "x"})
    time.sleep(0.3)
    takedown_lines = log.read_text()[start:]
    assert "POST /api/v1/takedown/cases 201" in takedown_lines
    http.get(f"{base}/healthz")  # the control: logged with its address
    time.sleep(0.3)
    after_control = log.read_text()[start:]
    assert source in after_control[len(takedown_lines) :]
    for trace in (source, USER_AGENT, number):
        assert trace not in takedown_lines


def test_the_production_server_logs_no_address_or_case_number_for_unrouted_takedown_paths(
    production_server: tuple[str, Path],
) -> None:
    base, log = production_server
    source = "127.13.57.92"
    http = requests.Session()
    http.mount("http://", _FromAddress(source))
    http.headers["User-Agent"] = USER_AGENT
    created = http.post(f"{base}/api/v1/takedown/cases", json={"hashes": [video_hash()]})
    number = created.json()["case_number"]
    start = len(log.read_text())
    for method, path, status in UNROUTED:
        response = http.request(method, base + path.format(number=number), allow_redirects=False)
        assert response.status_code == status, path
    time.sleep(0.3)
    unrouted_lines = log.read_text()[start:]
    assert unrouted_lines.count("GET <unrouted ") == len(UNROUTED)
    http.get(f"{base}/nothing-here/{number}")  # the control: logged with address and path
    time.sleep(0.3)
    after_control = log.read_text()[start + len(unrouted_lines) :]
    assert source in after_control
    assert number in after_control
    for trace in (source, USER_AGENT, number, number.replace("-", "")):
        assert trace not in unrouted_lines
