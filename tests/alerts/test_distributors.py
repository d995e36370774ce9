"""Secondary distributors get every alert version in their area pushed to them: the public CAP
route's own document, signed with their secret, in version order, retried with backoff when
they fail. A receiver on loopback (`tests.fakes.cap_receiver`) keeps each push and can answer
500 (or 429, 404 ...) the next n times.

Runs on SQLite and PostgreSQL, with the in-process pushers (`start_dispatch`) or with the
pusher's steps driven by the test (`push_all`), which then waits on no clock: the backoff and
the clock the pusher reckons in are injected, and a test moves the clock instead of sleeping.
Operators register, list and remove receivers with the real `haven distributor` command.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.dispatch.service import full_jitter
from alerts.distributors import store
from alerts.distributors.service import Pusher, add_distributor, push_due
from alerts.distributors.setup import make_pusher
from alerts.distributors.webhook import HttpPoster, push_target
from alerts.models import Distributor, DistributorDelivery
from alerts.subscriptions.channels import UrlPolicy
from haven.cli import main
from haven.db import get_session, utcnow, write
from haven.worker import start_dispatch
from tests.alerts.test_alerts_api import act
from tests.alerts.test_dispatch import approve, no_wait, wait_for
from tests.factories import COOK_COUNTY, free_port
from tests.fakes.cap_receiver import CapReceiver, Push
from tests.fakes.photo_server import PhotoServer
from tests.fakes.tarpit import Tarpit

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SANGAMON = "017167"  # Springfield, Illinois: far from Cook County
CHICAGO_SQUARE = "41.8,-87.7 41.8,-87.6 41.9,-87.6 41.9,-87.7 41.8,-87.7"  # a CAP polygon


def square(west: float, east: float, south: float = 41.8, north: float = 41.9) -> dict[str, Any]:
    """A GeoJSON polygon (lon/lat)."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """Receivers on loopback (http:// there is for tests only); a test may add settings."""
    return {"allow_private_channel_hosts": True, **getattr(request, "param", {})}


@pytest.fixture
def haven(app: Flask) -> CliRunner:
    """The `haven` command on the test's database, in test mode (receivers on loopback)."""
    return CliRunner(
        env={
            "HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url),
            "HAVEN_ALLOW_PRIVATE_CHANNEL_HOSTS": "true",
        }
    )


@pytest.fixture
def production(app: Flask) -> CliRunner:
    """The `haven` command with production's URL policy."""
    return CliRunner(
        env={
            "HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url),
            "HAVEN_ALLOW_PRIVATE_CHANNEL_HOSTS": "false",
        }
    )


def register(
    app: Flask,
    url: str,
    name: str = "Example Signs",
    *,
    same: tuple[str, ...] = (COOK_COUNTY,),
    area: dict[str, Any] | None = None,
) -> str:
    """Register a receiver through the service; returns its secret."""
    with app.app_context():
        _distributor, secret = add_distributor(
            session=get_session(),
            name=name,
            url=url,
            policy=UrlPolicy.from_settings(app.extensions["haven.settings"]),
            same_codes=list(same) or None,
            area=area,
        )
    return secret


class Clock:
    """The pusher's clock: the real time, moved on by the test at will."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta(0)

    def __call__(self) -> datetime.datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        """Move on by `delta` (seconds=..., minutes=...)."""
        self.offset += datetime.timedelta(**delta)


def use_pusher(app: Flask, **changes: Any) -> Pusher:
    """The app's pusher from its settings, with `changes` (an injected backoff, clock ...)."""
    pusher = dataclasses.replace(make_pusher(app.extensions["haven.settings"]), **changes)
    app.extensions["haven.pusher"] = pusher
    return pusher


def push_all(app: Flask, *, rounds: int = 20) -> int:
    """Make every due push as a worker does, in the test's thread; returns how many."""
    from alerts.distributors.setup import get_pusher

    made = 0
    with app.app_context():
        session = get_session()
        while push_due(app=app, session=session, pusher=get_pusher(app)):
            made += 1
            assert made < rounds, "pushes kept coming due"
    return made


def pushes(app: Flask, name: str = "Example Signs") -> list[tuple[Any, ...]]:
    """A receiver's pushes: (version, msg type, status, attempts, status code, error)."""
    with app.app_context():
        rows = get_session().execute(
            select(
                DistributorDelivery.alert_version,
                DistributorDelivery.msg_type,
                DistributorDelivery.status,
                DistributorDelivery.attempts,
                DistributorDelivery.last_status_code,
                DistributorDelivery.last_error,
            )
            .join(Distributor, Distributor.id == DistributorDelivery.distributor_id)
            .where(Distributor.name == name)
            .order_by(DistributorDelivery.id)
        )
        return [tuple(row) for row in rows]


def next_attempt(app: Flask) -> datetime.datetime:
    with app.app_context():
        due = get_session().scalar(
            select(DistributorDelivery.next_attempt_at).order_by(DistributorDelivery.id)
        )
    assert due is not None
    return due


def verify(push: Push, secret: str) -> None:
    """Check a push's signature as a receiver would: the HMAC-SHA256 of "timestamp.body"."""
    timestamp = push.header("Haven-Timestamp")
    assert timestamp is not None
    assert abs(time.time() - int(timestamp)) < 300  # receivers refuse older ones
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + push.body, hashlib.sha256
    ).hexdigest()
    assert push.header("Haven-Signature") == f"sha256={expected}"


def msg_type(push: Push) -> str:
    """The CAP msgType of a push."""
    found = ET.fromstring(push.body).findtext(f"{CAP}msgType")
    assert found is not None
    return str(found)


def public_cap(client: FlaskClient, alert_id: int) -> tuple[bytes, str]:
    """The public CAP route's document for the alert now, and its Content-Type."""
    response = client.get(f"/alerts/{alert_id}.cap")
    assert response.status_code == 200
    return response.data, response.headers["Content-Type"]


@pytest.fixture
def running(app: Flask) -> Iterator[Flask]:
    """The app with its in-process background work: dispatch and the distributors' pushers."""
    runner = start_dispatch(app)
    yield app
    runner.stop()


def test_an_approved_alert_is_pushed_as_its_public_cap_signed_with_the_receivers_secret(
    running: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    cap_receiver: CapReceiver,
    haven: CliRunner,
) -> None:
    added = haven.invoke(
        main,
        [
            "distributor",
            "add",
            "Example Signs",
            "--url",
            cap_receiver.push_url(),
            "--same",
            COOK_COUNTY,
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    secret = json.loads(added.output)["secret"]
    alert_id = approve(client, officers)
    wait_for(lambda: len(cap_receiver.pushes) == 1, timeout=10)
    push = cap_receiver.pushes[0]
    document, content_type = public_cap(client, alert_id)
    assert (push.method, push.path, push.answered) == ("POST", "/cap", 200)
    assert push.body == document  # byte for byte what the public route serves
    assert push.header("Content-Type") == content_type
    assert content_type.split(";")[0] == "application/cap+xml"
    assert msg_type(push) == "Alert"
    verify(push, secret)
    # Signed with another secret, or over another body, it would not verify.
    with pytest.raises(AssertionError):
        verify(push, "hvd_not-the-secret")
    with pytest.raises(AssertionError):
        verify(dataclasses.replace(push, body=push.body.replace(b"Jane", b"June")), secret)
    wait_for(lambda: pushes(running) == [(1, "Alert", "sent", 1, 200, None)], timeout=5)


def test_an_update_and_a_cancel_are_pushed_each_as_the_public_route_served_that_version(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    secret = register(app, cap_receiver.push_url())
    register(app, cap_receiver.push_url("/springfield"), "Springfield Signs", same=(SANGAMON,))
    alert_id = approve(client, officers)
    assert push_all(app) == 1
    served = [public_cap(client, alert_id)[0]]
    # The area moves to Springfield: the Cook County receiver had the alert, so it is told;
    # the Springfield one is told too, now that the alert reaches it.
    moved = act(client, officers["drafter"], alert_id, "update", {"areas": [{"same": SANGAMON}]})
    assert moved.status_code == 200, moved.json
    assert push_all(app) == 2
    served.append(public_cap(client, alert_id)[0])
    cancelled = act(client, officers["drafter"], alert_id, "cancel", {"reason": "child_found"})
    assert cancelled.status_code == 200, cancelled.json
    assert push_all(app) == 2
    served.append(public_cap(client, alert_id)[0])

    cook = [p for p in cap_receiver.pushes if p.path == "/cap"]
    assert [msg_type(p) for p in cook] == ["Alert", "Update", "Cancel"]
    assert [p.body for p in cook] == served
    for push in cook:
        verify(push, secret)
    springfield = [p for p in cap_receiver.pushes if p.path == "/springfield"]
    assert [p.body for p in springfield] == served[1:]
    assert [status for _v, _t, status, *_ in pushes(app)] == ["sent"] * 3


def test_an_update_is_never_pushed_before_the_alert_it_updates_even_while_that_is_retried(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url())
    use_pusher(app, backoff=no_wait)  # a retry is due at once: only the order holds it back
    alert_id = approve(client, officers)
    assert (
        act(
            client, officers["drafter"], alert_id, "update", {"texts": {"fr": "Appelez le 911."}}
        ).status_code
        == 200
    )
    cap_receiver.fail(1)
    assert push_all(app) == 3
    assert [(msg_type(p), p.answered) for p in cap_receiver.pushes] == [
        ("Alert", 500),
        ("Alert", 200),
        ("Update", 200),
    ]


def test_a_receiver_answering_500_is_retried_after_a_growing_backoff_until_it_takes_the_push(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url())
    asked: list[int] = []

    def backoff(attempts: int) -> datetime.timedelta:
        asked.append(attempts)
        return datetime.timedelta(seconds=2**attempts)  # full_jitter's ceiling, no jitter

    clock = Clock()
    use_pusher(app, backoff=backoff, clock=clock)
    cap_receiver.fail(2)
    approve(client, officers)
    for attempt, wait in ((1, 2), (2, 4)):
        before = clock()
        assert push_all(app) == 1  # then nothing is due until the backoff has passed
        _version, _type, status, attempts, code, error = pushes(app)[0]
        assert (status, attempts, code) == ("pending", attempt, 500)
        assert error.startswith("HTTP 500")
        assert next_attempt(app) >= before + datetime.timedelta(seconds=wait)
        clock.advance(seconds=wait - 0.5)
        assert push_all(app) == 0
        clock.advance(seconds=1)
    assert push_all(app) == 1
    assert asked == [1, 2]
    assert pushes(app) == [(1, "Alert", "sent", 3, 200, None)]
    assert [p.answered for p in cap_receiver.pushes] == [500, 500, 200]


def test_the_default_backoff_is_exponential_with_full_jitter() -> None:
    for attempts in range(1, 12):
        waits = [full_jitter(attempts).total_seconds() for _ in range(200)]
        ceiling = min(300.0, 2.0**attempts)
        assert all(0 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 150  # jittered: retries after an outage spread out
        assert max(waits) > ceiling / 2


def test_a_429_is_retried_no_sooner_than_its_retry_after(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url())
    clock = Clock()
    use_pusher(app, backoff=lambda attempts: datetime.timedelta(seconds=1), clock=clock)
    cap_receiver.fail(1, 429, {"Retry-After": "120"})
    approve(client, officers)
    before = clock()
    assert push_all(app) == 1
    assert next_attempt(app) >= before + datetime.timedelta(seconds=120)
    clock.advance(seconds=60)
    assert push_all(app) == 0  # its own backoff (1 s) has passed, the Retry-After has not
    clock.advance(seconds=61)
    assert push_all(app) == 1
    assert [p.answered for p in cap_receiver.pushes] == [429, 200]


@pytest.mark.parametrize(
    ("status", "becomes"),
    [
        (404, "failed"),
        (400, "failed"),
        (401, "failed"),
        (301, "failed"),
        (408, "pending"),
        (503, "pending"),
    ],
)
def test_a_4xx_fails_the_push_at_once_and_408_and_5xx_are_retried(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    cap_receiver: CapReceiver,
    status: int,
    becomes: str,
) -> None:
    register(app, cap_receiver.push_url())
    use_pusher(app, backoff=lambda attempts: datetime.timedelta(minutes=5))
    cap_receiver.fail(1, status)
    approve(client, officers)
    assert push_all(app) == 1
    [(_version, _type, found, attempts, code, error)] = pushes(app)
    assert (found, attempts, code) == (becomes, 1, status)
    assert error.startswith(f"HTTP {status}")
    if status == 301:
        assert "redirects are not followed" in error


@pytest.mark.parametrize("settings_overrides", [{"distributor_max_attempts": 3}], indirect=True)
def test_retries_end_at_the_limit_and_the_push_fails_saying_why(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url())
    use_pusher(app, backoff=no_wait)
    cap_receiver.fail(10)
    approve(client, officers)
    assert push_all(app) == 3
    [(_version, _type, status, attempts, code, error)] = pushes(app)
    assert (status, attempts, code) == ("failed", 3, 500)
    assert error.startswith("gave up after 3 attempts; the last: HTTP 500")
    assert len(cap_receiver.pushes) == 3


@pytest.mark.parametrize("settings_overrides", [{"distributor_push_seconds": 0.2}], indirect=True)
def test_a_receiver_that_refuses_connections_or_never_answers_is_tried_again_later(
    app: Flask, client: FlaskClient, officers: dict[str, str], tarpit: Tarpit
) -> None:
    register(app, f"http://127.0.0.1:{free_port()}/cap", "Closed")
    register(app, f"http://127.0.0.1:{tarpit.port}/cap", "Silent")
    use_pusher(app, backoff=lambda attempts: datetime.timedelta(minutes=5))
    approve(client, officers)
    assert push_all(app) == 2  # returns at all: the silent one is let go at its deadline
    [(_v, _t, status, attempts, code, error)] = pushes(app, "Closed")
    assert (status, attempts, code) == ("pending", 1, None)
    assert "ConnectionRefusedError" in error
    [(_v, _t, status, attempts, code, error)] = pushes(app, "Silent")
    assert (status, attempts, code) == ("pending", 1, None)
    assert error.startswith("no answer within")


@pytest.mark.parametrize("settings_overrides", [{"distributor_push_seconds": 0.5}], indirect=True)
def test_a_receiver_answering_a_byte_at_a_time_is_let_go_at_the_deadline_and_holds_up_no_other(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    cap_receiver: CapReceiver,
    photo_server: PhotoServer,
) -> None:
    # Its status line, then a header byte every 0.1 s: no single read ever waits long. One
    # pool thread, which the slow push must give back at its deadline for the other to go.
    register(app, photo_server.url + "/slow-headers.jpg", "Slow")
    register(app, cap_receiver.push_url(), "Healthy")
    use_pusher(
        app,
        poster=HttpPoster(deadline=0.5, workers=1),
        backoff=lambda attempts: datetime.timedelta(minutes=5),
    )
    approve(client, officers)
    assert push_all(app) == 2
    assert photo_server.requests == ["/slow-headers.jpg"]
    # Let go long before the slow receiver was done (600 header bytes, one per 0.1 s):
    # counted in bytes it sent, not timed.
    assert photo_server.dribbled < 600 // 4
    [(_v, _t, status, attempts, code, error)] = pushes(app, "Slow")
    assert (status, attempts, code) == ("pending", 1, None)
    assert error.startswith("no answer within")
    assert pushes(app, "Healthy") == [(1, "Alert", "sent", 1, 200, None)]
    assert len(cap_receiver.accepted) == 1


def test_a_push_connects_to_the_address_its_check_passed_never_to_one_looked_up_again(
    app: Flask, cap_receiver: CapReceiver
) -> None:
    policy = UrlPolicy.from_settings(app.extensions["haven.settings"])
    loopback = ipaddress.ip_address("127.0.0.1")
    assert push_target(cap_receiver.push_url(), policy).addresses == (loopback,)
    # A name no resolver knows (.invalid): the POST can reach the receiver only at the
    # checked address it is given, and still names the URL's host in its Host header.
    url = f"http://receiver.invalid:{cap_receiver.port}/cap"
    result = HttpPoster(deadline=5).post(
        url=url, addresses=(loopback,), body=b"<alert/>", headers={"Content-Type": "text/xml"}
    )
    assert (result.outcome, result.status_code) == ("sent", 200)
    [push] = cap_receiver.pushes
    assert push.header("Host") == f"receiver.invalid:{cap_receiver.port}"
    assert push.body == b"<alert/>"


def test_nothing_is_pushed_for_an_alert_outside_the_receivers_area(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url("/springfield"), "Springfield", same=(SANGAMON,))
    register(app, cap_receiver.push_url("/apart"), "Apart", same=(), area=square(-87.59, -87.5))
    register(
        app, cap_receiver.push_url("/touching"), "Touching", same=(), area=square(-87.6, -87.5)
    )
    register(app, cap_receiver.push_url("/everywhere"), "Everywhere", same=())
    approve(client, officers, areas=[{"polygon": CHICAGO_SQUARE}])
    approve(client, officers, status="Test")  # Test alerts reach no distributor
    assert push_all(app) == 2
    # Sharing only an edge is overlap; a hundredth of a degree apart is not.
    assert sorted(p.path for p in cap_receiver.pushes) == ["/everywhere", "/touching"]
    assert pushes(app, "Springfield") == []
    assert pushes(app, "Apart") == []


def test_a_push_whose_worker_died_is_made_by_another_once_its_lease_runs_out(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    register(app, cap_receiver.push_url())
    approve(client, officers)
    lease = make_pusher(app.extensions["haven.settings"]).lease
    with app.app_context():
        session = get_session()
        with write(session):  # a worker claims the push, then dies before making it
            assert store.claim_push(session=session, now=utcnow(), lease=lease) is not None
    assert push_all(app) == 0  # leased: no one else takes it yet
    use_pusher(app, clock=lambda: utcnow() + lease + datetime.timedelta(seconds=1))
    assert push_all(app) == 1
    assert pushes(app) == [(1, "Alert", "sent", 2, 200, None)]
    assert len(cap_receiver.pushes) == 1


def test_distributor_add_prints_the_secret_once_and_list_shows_last_success_and_failure(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    cap_receiver: CapReceiver,
    haven: CliRunner,
) -> None:
    added = haven.invoke(
        main, ["distributor", "add", "Good", "--url", cap_receiver.push_url(), "--same", "017031"]
    )
    assert added.exit_code == 0, added.output
    secret = re.search(r"secret: (hvd_\S+)", added.output)
    assert secret
    assert "not shown again" in added.output
    closed = f"http://127.0.0.1:{free_port()}/cap"
    assert haven.invoke(main, ["distributor", "add", "Down", "--url", closed]).exit_code == 0
    again = haven.invoke(main, ["distributor", "add", "Good", "--url", cap_receiver.push_url()])
    assert again.exit_code == 1
    assert "already exists" in again.output

    use_pusher(app, backoff=lambda attempts: datetime.timedelta(minutes=5))
    approve(client, officers)
    assert push_all(app) == 2
    listed = haven.invoke(main, ["distributor", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert secret[1] not in listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    good, down = rows["Good"], rows["Down"]
    assert (good["area"], good["same"], good["pending"]) == ("same", ["017031"], 0)
    assert good["last_success"] is not None
    assert (good["last_failure"], good["last_error"]) == (None, None)
    assert (down["area"], down["pending"], down["last_success"]) == ("everywhere", 1, None)
    assert down["last_failure"] is not None
    assert "ConnectionRefusedError" in down["last_error"]
    table = haven.invoke(main, ["distributor", "list"])
    assert table.exit_code == 0, table.output
    assert re.search(r"^Good .* 017031 +0 +\d{4}-\S+Z +never +-$", table.output, re.MULTILINE)
    assert re.search(r"^Down .* everywhere +1 +never +\d{4}-\S+Z +.*Refused", table.output, re.M)

    removed = haven.invoke(main, ["distributor", "remove", "Down"])
    assert removed.exit_code == 0, removed.output
    assert "1 pushes still to make were dropped" in removed.output
    rows = {
        row["name"]: row
        for row in json.loads(haven.invoke(main, ["distributor", "list", "--json"]).output)
    }
    assert (rows["Down"]["removed"], rows["Down"]["pending"]) == (True, 0)
    approve(client, officers)
    assert push_all(app) == 1  # to Good only
    assert [status for *_, status, _a, _c, _e in pushes(app, "Down")] == ["failed"]
    assert haven.invoke(main, ["distributor", "remove", "Nobody"]).exit_code == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://10.0.0.7/cap", "private, loopback or reserved"),
        ("https://[::ffff:192.168.0.1]/cap", "private, loopback or reserved"),
        ("https://127.0.0.1:8443/cap", "private, loopback or reserved"),
        ("http://8.8.8.8/cap", "must use https://"),
        ("ftp://8.8.8.8/cap", "is not an https:// URL"),
        ("https://user:pass@8.8.8.8/cap", "user name or password"),
    ],
)
def test_a_private_or_plain_http_url_is_refused_at_registration(
    production: CliRunner, url: str, says: str
) -> None:
    result = production.invoke(main, ["distributor", "add", "Refused", "--url", url])
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output
    assert json.loads(production.invoke(main, ["distributor", "list", "--json"]).output) == []


def test_tests_may_push_over_http_to_loopback_but_nowhere_else(haven: CliRunner) -> None:
    result = haven.invoke(main, ["distributor", "add", "Plain", "--url", "http://8.8.8.8/cap"])
    assert result.exit_code == 1
    assert "must use https://" in result.output


def test_a_bad_same_code_or_geojson_area_is_refused_at_registration(
    haven: CliRunner, tmp_path: Path
) -> None:
    url = "https://8.8.8.8/cap"
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "Point", "coordinates": [-87.6, 41.9]}))
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    for arguments, says in (
        (["--same", "099999"], "099999 names no known county or state"),
        (["--same", "17031"], "is not 6 digits"),
        (["--area", str(point)], "'Point' is not an area"),
        (["--area", str(broken)], "not JSON"),
        (["--same", COOK_COUNTY, "--area", str(point)], "at most one of --same or --area"),
    ):
        result = haven.invoke(main, ["distributor", "add", "Bad", "--url", url, *arguments])
        assert result.exit_code != 0, arguments
        assert says in result.output, result.output
        assert "Traceback" not in result.output
    assert json.loads(haven.invoke(main, ["distributor", "list", "--json"]).output) == []


def test_pushes_sent_failed_and_pending_show_in_the_metrics(
    app: Flask, client: FlaskClient, officers: dict[str, str], cap_receiver: CapReceiver
) -> None:
    good, down = f"Good {secrets.token_hex(3)}", f"Down {secrets.token_hex(3)}"
    register(app, cap_receiver.push_url(), good)
    register(app, f"http://127.0.0.1:{free_port()}/cap", down, same=())
    use_pusher(app, backoff=lambda attempts: datetime.timedelta(minutes=5))
    approve(client, officers)
    assert push_all(app) == 2
    scraped = client.get("/metrics").get_data(as_text=True)
    for line in (
        f'haven_distributor_pushes_total{{distributor="{good}",outcome="sent"}} 1.0',
        f'haven_distributor_pushes_total{{distributor="{down}",outcome="retry"}} 1.0',
        f'haven_distributor_deliveries{{distributor="{good}",status="sent"}} 1.0',
        f'haven_distributor_deliveries{{distributor="{down}",status="pending"}} 1.0',
        f'haven_distributor_pending{{distributor="{good}"}} 0.0',
        f'haven_distributor_pending{{distributor="{down}"}} 1.0',
        'haven_dispatch_send_seconds_count{channel="distributor"}',
    ):
        assert line in scraped, line
