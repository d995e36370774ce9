"""An approved alert reaches exactly the subscribers in its area, in their language, by SMS
through the real twilio client and a Twilio API on loopback; updates and cancellations reach
the same people. Runs on SQLite and PostgreSQL with the in-process worker, or with the
worker's own steps driven by the test (`dispatch`), which then waits on no clock: backoff and
the rate limit's clock are injected where a test needs retries or a rate."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from alerts.dispatch import service
from alerts.dispatch.bucket import LocalBucket
from alerts.dispatch.service import Dispatcher, record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher, make_dispatcher
from alerts.models import Delivery, Subscriber
from alerts.providers import SendResult, SmsProvider
from alerts.subscribers import mark_unreachable
from haven.db import get_session, utcnow
from haven.worker import start_dispatch
from tests.alerts.test_alerts_api import GARY, LOOP, SPRINGFIELD, act, draft
from tests.factories import bearer, create_subscribers, serving
from tests.fakes.clock import VirtualClock
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
        **fake_twilio.settings(),
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
    response = act(
        client, officers["approver"], alert["id"], "approve", {"revision": alert["revision"]}
    )
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
    # Reached means recorded as reached: until its outcome is saved, a message in flight may
    # yet fail, and its subscriber is told everything.
    wait_for(lambda: counts(running).get("queued") == 3)
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
    # Those the alert reached are told what changed; the newcomer is told everything.
    by_phone = {m.to: m.body for m in updates}
    first = next(m.body for m in fake_twilio.messages[:3] if m.to == INSIDE[0])
    assert "The alert area has changed." in by_phone[INSIDE[0]]
    assert "Last seen" in first
    assert "Last seen" not in by_phone[INSIDE[0]]
    assert "Last seen" in by_phone[OUTSIDE[0]]
    assert by_phone[OUTSIDE[0]].startswith("UPDATE")
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
        assert [job.recorded for job in session.scalars(select(store.DispatchJob))] == [3]
        # End that read: on SQLite a read transaction cannot become the writer once the
        # running worker has written ("database is locked"); the UPDATE then begins anew.
        session.rollback()
        session.execute(
            store.DispatchJob.__table__.update().values(state="pending", lease_until=None)
        )
        session.commit()
        job = record_next_job(session=session, audience=running.extensions["haven.audience"])
        assert job is not None
        # The rows were there already: the job's count of its deliveries stays 3.
        assert job.recorded == 3
    time.sleep(0.5)
    assert sum(counts(running).values()) == 3
    assert len(fake_twilio.messages) == 3
    assert alert_id


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(("code", "becomes"), [(21610, "opted_out"), (21211, "unreachable")])
def test_a_number_twilio_refuses_for_good_is_opted_out_or_marked_unreachable(
    running: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    code: int,
    becomes: str,
) -> None:
    fake_twilio.error_for[INSIDE[1]] = code  # replied STOP; not a valid number
    approve(client, officers)
    wait_for(lambda: counts(running) == {"queued": 2, "failed": 1})
    wait_for(lambda: subscriber_status(running, INSIDE[1]) == becomes)
    assert deliveries(running)[INSIDE[1]][:3] == ("failed", 1, str(code))


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


def dispatch(app: Flask, *, rounds: int = 20) -> list[int]:
    """Record every queued version and send until nothing is due, as a worker does, but in
    the test's thread and without waiting: SMS, then channels. Returns the size of each batch
    claimed."""
    claimed: list[int] = []
    with app.app_context():
        session = get_session()
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            pass
        for kind in ("sms", "channel"):
            while count := send_due(
                app=app,
                session=session,
                dispatcher=get_dispatcher(app),
                kind=kind,
                on_permanent=mark_unreachable,
            ):
                claimed.append(count)
                assert len(claimed) < rounds, "deliveries kept coming due"
    return claimed


def use_dispatcher(app: Flask, **changes: Any) -> Dispatcher:
    """The app's dispatcher from its settings, with `changes` (an injected backoff, ...)."""
    dispatcher = dataclasses.replace(make_dispatcher(app.extensions["haven.settings"]), **changes)
    app.extensions["haven.dispatcher"] = dispatcher
    return dispatcher


def no_wait(attempts: int) -> datetime.timedelta:
    """A backoff that makes every retry due at once."""
    return datetime.timedelta(0)


def deliveries(app: Flask) -> dict[str, tuple[str, int, str | None, str | None]]:
    """Each SMS delivery by phone: (status, attempts, error code, reason); one version only."""
    with app.app_context():
        rows = get_session().execute(
            select(
                Subscriber.phone,
                Delivery.status,
                Delivery.attempts,
                Delivery.error_code,
                Delivery.reason,
            ).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        )
        return {phone: (status, n, code, reason) for phone, status, n, code, reason in rows}


def subscriber_status(app: Flask, phone: str) -> str | None:
    with app.app_context():
        return get_session().scalar(select(Subscriber.status).where(Subscriber.phone == phone))


class RaisingSms:
    """An SMS provider that raises for one number (a bug, a broken connection pool) and hands
    every other message to the real one."""

    def __init__(self, poisoned: str, real: SmsProvider) -> None:
        self.poisoned = poisoned
        self.real = real

    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        if to == self.poisoned:
            raise RuntimeError("the connection pool is broken")
        return self.real.send_sms(
            to=to, body=body, validity_seconds=validity_seconds, status_callback=status_callback
        )


PHONES = [f"+1312555{n:04d}" for n in range(500, 510)]
POISONED = PHONES[4]  # in the middle of the batch


@pytest.mark.parametrize(
    "settings_overrides", [{"dispatch_max_attempts": 3, "dispatch_batch": 50}], indirect=True
)
@pytest.mark.parametrize("poison", ["render", "send"])
def test_one_poisoned_delivery_fails_alone_after_the_cap_and_everyone_else_gets_one_message(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    poison: str,
) -> None:
    create_subscribers(app, [(p, *LOOP) for p in PHONES[:4]])
    create_subscribers(app, [(POISONED, *LOOP)], language="vi")
    create_subscribers(app, [(p, *LOOP) for p in PHONES[5:]])
    dispatcher = use_dispatcher(app, backoff=no_wait)
    if poison == "render":
        render_sms = service.render_sms

        def broken_in_vietnamese(**options: Any) -> str:
            if options["language"] == "vi":
                raise ValueError("the vi catalog is broken")
            return render_sms(**options)

        monkeypatch.setattr(service, "render_sms", broken_in_vietnamese)
        says = "render: ValueError: the vi catalog is broken"
    else:
        use_dispatcher(app, backoff=no_wait, sms=RaisingSms(POISONED, dispatcher.sms))
        says = "error: RuntimeError: the connection pool is broken"
    alert_id = approve(client, officers)

    # One batch of ten, then the poisoned one alone, until its third attempt fails it.
    assert dispatch(app) == [10, 1, 1]
    others = [p for p in PHONES if p != POISONED]
    assert Counter(m.to for m in fake_twilio.messages) == Counter(others)
    found = deliveries(app)
    for phone in others:
        assert found[phone] == ("queued", 1, None, None)
    status, attempts, code, reason = found[POISONED]
    assert (status, attempts, code) == ("failed", 3, "max_attempts")
    assert reason == f"gave up after 3 attempts; the last: {says}"
    progress = client.get(
        f"/api/v1/alerts/{alert_id}/deliveries", headers=bearer(officers["drafter"])
    ).json
    assert progress["versions"][0]["by_channel"] == {"sms": {"queued": 9, "failed": 1}}


@pytest.mark.parametrize("settings_overrides", [{"dispatch_max_attempts": 2}], indirect=True)
def test_a_delivery_whose_worker_died_with_it_every_time_is_not_sent_again_after_the_cap(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    approve(client, officers)
    with app.app_context():
        session = get_session()
        assert record_next_job(session=session, audience=app.extensions["haven.audience"])
        # Claimed twice, perhaps handed to Twilio twice, and no outcome ever recorded.
        session.execute(
            update(Delivery).values(
                status="sending",
                attempts=2,
                lease_until=utcnow() - datetime.timedelta(seconds=1),
            )
        )
        session.commit()
    assert dispatch(app) == [1]
    assert fake_twilio.messages == []
    status, attempts, code, reason = deliveries(app)[INSIDE[0]]
    assert (status, attempts, code) == ("failed", 3, "max_attempts")
    assert reason is not None
    assert "no outcome" in reason


@pytest.mark.parametrize("settings_overrides", [{"dispatch_max_attempts": 3}], indirect=True)
def test_a_twilio_outage_spends_no_attempt_and_only_the_alerts_expiry_ends_the_tries(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    asked: list[int] = []

    def backoff(attempts: int) -> datetime.timedelta:
        asked.append(attempts)
        return datetime.timedelta(0)

    use_dispatcher(app, backoff=backoff)
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    approve(client, officers)
    with pytest.raises(AssertionError, match="kept coming due"):
        dispatch(app, rounds=8)  # twice the cap, and still due
    assert fake_twilio.requests == 8
    assert asked == [1, 2, 3, 4, 5, 6, 7, 8]  # the backoff grows all the same
    assert deliveries(app)[INSIDE[0]][:3] == ("pending", 0, "20503")
    fake_twilio.fail_rate = 0.0
    assert dispatch(app) == [1]
    assert deliveries(app)[INSIDE[0]][:2] == ("queued", 1)
    assert fake_twilio.requests == 9


@pytest.mark.parametrize("settings_overrides", [{"dispatch_max_attempts": 3}], indirect=True)
def test_a_twilio_500_may_have_taken_the_message_so_it_spends_attempts_up_to_the_cap(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    use_dispatcher(app, backoff=no_wait)
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (500,)
    approve(client, officers)
    assert dispatch(app) == [1, 1, 1]
    assert fake_twilio.requests == 3
    status, attempts, code, reason = deliveries(app)[INSIDE[0]]
    assert (status, attempts, code) == ("failed", 3, "max_attempts")
    assert reason is not None
    assert "20500" in reason


@pytest.mark.parametrize("settings_overrides", [{"dispatch_max_attempts": 3}], indirect=True)
def test_a_twilio_that_keeps_failing_is_tried_until_the_alert_expires(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    use_dispatcher(app, backoff=no_wait)
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (503,)
    approve(client, officers)
    with pytest.raises(AssertionError, match="kept coming due"):
        dispatch(app, rounds=5)
    # Seven hours on, the six-hour draft has expired: the next claim fails it, unsent.
    use_dispatcher(app, backoff=no_wait, clock=lambda: utcnow() + datetime.timedelta(hours=7))
    assert dispatch(app) == [1]
    assert fake_twilio.requests == 5
    status, _attempts, code, _reason = deliveries(app)[INSIDE[0]]
    assert (status, code) == ("failed", "expired")


def test_a_refusal_puts_the_delivery_off_for_the_backoff_or_twilios_retry_after(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    asked: list[int] = []

    def backoff(attempts: int) -> datetime.timedelta:
        asked.append(attempts)
        return datetime.timedelta(seconds=30)

    use_dispatcher(app, backoff=backoff)
    fake_twilio.fail_rate, fake_twilio.fail_statuses, fake_twilio.retry_after = 1.0, (429,), 120
    approve(client, officers)
    before = utcnow()
    assert dispatch(app) == [1]  # and then nothing is due: no test waits two minutes
    assert asked == [1]
    assert deliveries(app)[INSIDE[0]][:3] == ("pending", 0, "20429")  # no attempt spent
    with app.app_context():
        due = get_session().scalar(select(Delivery.next_attempt_at))
    assert due is not None
    assert due >= before + datetime.timedelta(seconds=120)


def test_a_delivery_still_due_when_its_alert_version_expires_fails_with_that_reason(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [(INSIDE[0], *LOOP)])
    # The draft expires in six hours; the dispatcher's clock is seven hours on.
    use_dispatcher(app, clock=lambda: utcnow() + datetime.timedelta(hours=7))
    approve(client, officers)
    assert dispatch(app) == [1]
    assert fake_twilio.messages == []
    assert deliveries(app)[INSIDE[0]] == (
        "failed",
        1,
        "expired",
        "expired: the alert version expired before it was sent",
    )


class RecordingBucket:
    """A token bucket that notes when each token it hands out was due."""

    def __init__(self, bucket: LocalBucket, clock: VirtualClock) -> None:
        self.bucket = bucket
        self.rate = bucket.rate
        self.clock = clock
        self.due: list[float] = []
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> None:
        self.bucket.take(count)
        with self._lock:
            self.due.extend([self.clock.thread_time()] * count)


RATE = 40.0


@pytest.mark.parametrize(
    "settings_overrides",
    # Never give up: one refusal in five, 30 times in a row, is not going to happen.
    [{"sms_rate_per_second": RATE, "dispatch_max_attempts": 30}],
    indirect=True,
)
def test_provider_errors_delay_but_never_lose_a_message_and_every_request_spends_a_token(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    public_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    phones = [f"+1312555{n:04d}" for n in range(200, 400)]
    create_subscribers(app, [(p, *LOOP) for p in phones])
    # The rate limit runs on a virtual clock and retries are due at once, so four sender
    # threads go as fast as the machine lets them, while the bucket's schedule says when each
    # request would have left on the real clock.
    clock = VirtualClock()
    bucket = RecordingBucket(LocalBucket(RATE, clock=clock), clock)
    backoffs: list[int] = []

    def backoff(attempts: int) -> datetime.timedelta:
        backoffs.append(attempts)
        return datetime.timedelta(0)

    use_dispatcher(app, bucket=bucket, backoff=backoff)
    fake_twilio.fail_rate = 0.2  # one request in five answered 429 or 500
    with serving(app, public_port):
        runner = start_dispatch(app)
        try:
            approve(client, officers)
            wait_for(lambda: len(fake_twilio.messages) == len(phones), timeout=60)
            time.sleep(0.3)  # nothing more arrives
        finally:
            runner.stop()  # type: ignore[attr-defined]
    assert Counter(m.to for m in fake_twilio.messages) == Counter(phones)  # each exactly once
    refused = fake_twilio.requests - len(phones)
    # A kept-alive connection the fake closed as a send began never reached it: that send
    # is retried too (and spent a token), though the fake counted no request.
    lost_on_the_way = sum("Twilio unreachable" in r.getMessage() for r in caplog.records)
    assert refused > 10  # some were refused, then retried
    assert len(backoffs) == refused + lost_on_the_way  # each put off, none given up on
    assert max(backoffs) > 1  # some more than once, each time counted
    assert counts(app) == {"queued": len(phones)}

    # Refused requests spend tokens too: the provider counts them.
    due = sorted(bucket.due)
    assert len(due) == fake_twilio.requests + lost_on_the_way
    # In no stretch of time did more requests leave than the rate allows (after the burst),
    # and with plenty due, the rate was the configured one.
    burst = bucket.bucket.burst
    for first in range(len(due)):
        for last in range(first, len(due)):
            assert last - first + 1 <= burst + RATE * (due[last] - due[first]) + 1e-6
    assert due[-1] - due[0] == pytest.approx((len(due) - burst) / RATE, rel=0.01)


@pytest.fixture
def served(app: Flask, public_port: int) -> Iterator[Flask]:
    """The app on its public URL, where the fake Twilio posts status callbacks; no worker."""
    with serving(app, public_port):
        yield app


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("code", "reported", "becomes"),
    [
        (30005, "undelivered", "unreachable"),  # unknown destination handset
        (30006, "undelivered", "unreachable"),  # landline or unreachable carrier
        (21610, "failed", "opted_out"),  # replied STOP (found by a Messaging Service)
    ],
)
def test_a_status_callback_with_a_permanent_error_stops_every_alert_to_that_number(
    served: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    code: int,
    reported: str,
    becomes: str,
) -> None:
    gone = INSIDE[1]
    alert_id = approve(client, officers)
    dispatch(served)
    first = fake_twilio.messages
    assert sorted(m.to for m in first) == sorted(INSIDE)
    # An update is recorded before Twilio's report comes in, and sent after it.
    grown = act(
        client,
        officers["drafter"],
        alert_id,
        "update",
        {"areas": [{"same": "017031"}, {"same": "017167"}]},
    )
    assert grown.status_code == 200, grown.json
    with served.app_context():
        assert record_next_job(session=get_session(), audience=served.extensions["haven.audience"])

    # Unsigned, the same report is refused and changes nothing.
    sid = next(m.sid for m in first if m.to == gone)
    forged = {"MessageSid": sid, "MessageStatus": reported, "ErrorCode": str(code)}
    assert client.post("/webhooks/twilio/status", data=forged).status_code == 403
    assert subscriber_status(served, gone) == "active"

    # Signed by Twilio, it reaches the subscriber; a repeat of it changes nothing more.
    sids = [m.sid for m in first]
    for _ in range(2):
        results = fake_twilio.deliver_callbacks(sids=sids, error_for={gone: code})
        assert {status for _, status in results} == {204}
    assert subscriber_status(served, gone) == becomes
    assert [subscriber_status(served, p) for p in (INSIDE[0], INSIDE[2])] == ["active"] * 2
    with served.app_context():
        reports = get_session().execute(
            select(Delivery.status, Delivery.error_code)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.phone == gone, Delivery.version == 1)
        )
        assert list(reports) == [(reported, str(code))]

    dispatch(served)  # the update: to everyone else, and skipped for that number
    approve(client, officers)  # a new alert: that number is not even recorded
    dispatch(served)
    sent = Counter(m.to for m in fake_twilio.messages)
    assert sent == {INSIDE[0]: 3, INSIDE[2]: 3, OUTSIDE[0]: 1, gone: 1}
    with served.app_context():
        every = get_session().execute(
            select(Delivery.alert_id, Delivery.version, Delivery.status, Delivery.error_code)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.phone == gone)
            .order_by(Delivery.id)
        )
        assert list(every) == [
            (alert_id, 1, reported, str(code)),
            (alert_id, 2, "skipped", becomes),
        ]
