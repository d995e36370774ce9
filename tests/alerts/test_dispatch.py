"""An approved alert reaches exactly the subscribers in its area, in their language, by SMS
through the real twilio client and a Twilio API on loopback; updates and cancellations reach
the same people. Runs on SQLite and PostgreSQL with the in-process worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from alerts.models import Delivery, Subscriber
from haven.db import get_session
from haven.worker import start_dispatch
from tests.alerts.test_alerts_api import GARY, LOOP, SPRINGFIELD, act, draft
from tests.factories import bearer, create_subscribers, serving
from tests.fakes.twilio_server import FakeTwilio

INSIDE = ["+13125550101", "+13125550102", "+13125550103"]
OUTSIDE = ["+12175550201", "+12195550202"]


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, fake_twilio: FakeTwilio, public_port: int
) -> dict[str, object]:
    """Twilio is the loopback fake; a test may add settings with indirect parametrization."""
    return {
        "public_url": f"http://127.0.0.1:{public_port}",
        "twilio_account_sid": fake_twilio.account_sid,
        "twilio_auth_token": fake_twilio.auth_token,
        "twilio_from_number": "+15005550006",
        "twilio_api_base": fake_twilio.url,
        "sms_rate_per_second": 500.0,
        **getattr(request, "param", {}),
    }


@pytest.fixture
def running(app: Flask, public_port: int) -> Iterator[Flask]:
    """The app served on its public URL (for status callbacks) with the in-process worker."""
    with serving(app, public_port):
        runner = start_dispatch(app)
        yield app
        runner.stop()  # type: ignore[attr-defined]


@pytest.fixture
def people(app: Flask) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP), (INSIDE[1], *LOOP)])
    create_subscribers(app, [(INSIDE[2], *LOOP)], language="es")
    create_subscribers(app, [(OUTSIDE[0], *SPRINGFIELD), (OUTSIDE[1], *GARY)])


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def approve(client: FlaskClient, officers: dict[str, str], **overrides: Any) -> int:
    alert = draft(client, officers["drafter"], **overrides)
    act(client, officers["drafter"], alert["id"], "submit")
    response = act(client, officers["approver"], alert["id"], "approve")
    assert response.status_code == 200, response.json
    alert_id: int = alert["id"]
    return alert_id


def recipients(fake: FakeTwilio, marker: str = "") -> list[str]:
    return sorted(m.to for m in fake.messages if marker in m.body)


@pytest.mark.usefixtures("people")
def test_an_approved_alert_reaches_exactly_the_people_in_its_area_in_their_language(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    alert_id = approve(client, officers)
    wait_for(lambda: len(fake_twilio.messages) == 3)
    time.sleep(0.3)  # nothing more arrives
    assert recipients(fake_twilio) == sorted(INSIDE)
    spanish = next(m for m in fake_twilio.messages if m.to == INSIDE[2])
    english = next(m for m in fake_twilio.messages if m.to == INSIDE[0])
    for message in (spanish, english):
        assert "ABC1234" in message.body
        assert f"/a/{alert_id}" in message.body
        assert message.validity_period is not None
        assert message.status_callback.endswith("/webhooks/twilio/status")
    assert spanish.body != english.body or "es" not in running.extensions  # translated later
    progress = client.get(
        f"/api/v1/alerts/{alert_id}/deliveries", headers=bearer(officers["drafter"])
    ).json
    assert progress["versions"][0]["total"] == 3
    assert progress["first_sent_at"] is not None


@pytest.mark.usefixtures("people")
def test_status_callbacks_move_each_delivery_forward(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    alert_id = approve(client, officers)
    wait_for(lambda: len(fake_twilio.messages) == 3)
    wait_for(lambda: counts(running) == {"queued": 3})
    results = fake_twilio.deliver_callbacks("delivered")
    assert {status for _, status in results} == {204}
    progress = client.get(
        f"/api/v1/alerts/{alert_id}/deliveries", headers=bearer(officers["drafter"])
    ).json
    assert progress["versions"][0]["by_channel"] == {"sms": {"delivered": 3}}


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        rows = get_session().execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status: n for status, n in rows}


@pytest.mark.usefixtures("people")
def test_updates_and_cancellations_reach_the_same_people_and_new_ones_if_the_area_grew(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    alert_id = approve(client, officers)
    wait_for(lambda: len(fake_twilio.messages) == 3)
    grown = act(
        client,
        officers["drafter"],
        alert_id,
        "update",
        {"areas": [{"same": "017031"}, {"same": "017167"}]},
    )  # + Sangamon (Springfield)
    assert grown.status_code == 200, grown.json
    wait_for(lambda: len(fake_twilio.messages) == 7)
    updates = fake_twilio.messages[3:]
    assert sorted(m.to for m in updates) == sorted([*INSIDE, OUTSIDE[0]])
    act(client, officers["drafter"], alert_id, "cancel", {"reason": "child_found"})
    wait_for(lambda: len(fake_twilio.messages) == 11)
    cancelled = fake_twilio.messages[7:]
    assert sorted(m.to for m in cancelled) == sorted([*INSIDE, OUTSIDE[0]])
    english = [m for m in [*updates, *cancelled] if m.to != INSIDE[2]]
    assert sum("UPDATE" in m.body for m in english) == 3
    assert sum("CANCELLED: child found" in m.body for m in english) == 3


@pytest.mark.usefixtures("people")
def test_recording_twice_adds_no_second_delivery(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    from alerts.dispatch import store
    from alerts.dispatch.service import record_next_job

    alert_id = approve(client, officers)
    wait_for(lambda: len(fake_twilio.messages) == 3)
    with running.app_context():
        session = get_session()
        session.execute(
            store.DispatchJob.__table__.update().values(state="pending", lease_until=None)
        )
        session.commit()
        assert record_next_job(session=session, audience=running.extensions["haven.audience"])
    time.sleep(0.5)
    assert sum(counts(running).values()) == 3
    assert len(fake_twilio.messages) == 3
    assert alert_id


@pytest.mark.usefixtures("people")
def test_a_number_that_replied_stop_is_opted_out_by_the_21610_error(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    fake_twilio.error_for[INSIDE[1]] = 21610
    approve(client, officers)
    wait_for(lambda: counts(running).get("failed") == 1)
    with running.app_context():
        status = get_session().scalar(
            select(Subscriber.status).where(Subscriber.phone == INSIDE[1])
        )
    assert status == "opted_out"


@pytest.mark.usefixtures("people")
def test_test_alerts_reach_only_testers(
    running: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    from alerts.subscribers import set_tester

    with running.app_context():
        set_tester(session=get_session(), phone=INSIDE[0])
    approve(client, officers, status="Test")
    wait_for(lambda: len(fake_twilio.messages) == 1)
    time.sleep(0.3)
    assert recipients(fake_twilio) == [INSIDE[0]]


RATE = 40.0


@pytest.mark.parametrize("settings_overrides", [{"sms_rate_per_second": RATE}], indirect=True)
def test_provider_errors_delay_but_never_lose_a_message_and_the_rate_holds(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    running: Flask,
) -> None:
    phones = [f"+1312555{n:04d}" for n in range(200, 400)]
    create_subscribers(app, [(p, *LOOP) for p in phones])
    fake_twilio.fail_rate = 0.2  # one request in five answered 429 or 500
    samples: list[tuple[float, int, int]] = []  # (time, requests, accepted)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), fake_twilio.requests, len(fake_twilio.messages)))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        approve(client, officers)
        wait_for(lambda: len(fake_twilio.messages) == len(phones), timeout=90)
    finally:
        done.set()
        sampler.join()
    assert recipients(fake_twilio) == sorted(phones)
    assert fake_twilio.requests - len(phones) > 10  # some were refused, then retried
    # While plenty is due (first send to the 150th acceptance), the request rate - refused
    # requests spend tokens too - is the configured rate.
    bulk = [(t, r) for t, r, accepted in samples if r > 0 and accepted < 150]
    (t0, r0), (t1, r1) = bulk[0], bulk[-1]
    rate = (r1 - r0) / (t1 - t0)
    # Never more than 10% over the limit: that is the limiter's promise. The floor also
    # depends on the senders getting CPU on a shared 2-core machine, hence 20% below.
    assert rate <= RATE * 1.1, f"{rate:.1f} requests/s against a limit of {RATE}"
    assert fake_twilio.rate(window=2.0) <= RATE * 1.1
    assert rate >= RATE * 0.8, f"only {rate:.1f} requests/s against a limit of {RATE}"
