"""Failover between Twilio and Vonage, with GOV.UK Notify's rules: traffic shared by priority;
a provider with too many errors, or slow to accept, loses priority to the other; priorities
drift back once it recovers. The providers are the real clients against their loopback fakes;
the failover's clock is a VirtualClock where a test needs time to pass. The end-to-end test
runs the in-process dispatcher on SQLite and PostgreSQL while Vonage starts answering 500."""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from alerts.dispatch.service import record_next_job, send_due
from alerts.failover import FailoverSmsProvider, Thresholds
from alerts.models import Delivery
from alerts.providers import SendResult, TwilioSmsProvider
from alerts.vonage import VonageSmsProvider
from haven.db import get_session
from haven.metrics import EVENTS
from haven.worker import start_dispatch
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve, counts, no_wait, use_dispatcher, wait_for
from tests.factories import create_subscribers, serving
from tests.fakes.clock import VirtualClock
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.vonage_server import FakeVonage


def twilio_client(fake: FakeTwilio) -> TwilioSmsProvider:
    return TwilioSmsProvider(
        fake.account_sid, fake.auth_token, from_number="+15005550006", api_base=fake.url
    )


def vonage_client(fake: FakeVonage) -> VonageSmsProvider:
    return VonageSmsProvider(
        fake.api_key,
        fake.api_secret,
        from_="15005550006",
        rest_host=fake.rest_host,
        ca_bundle=fake.ca_bundle,
        timeout=5,
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1000.0)


def failover(
    fake_twilio: FakeTwilio,
    fake_vonage: FakeVonage,
    clock: VirtualClock,
    shares: dict[str, int] | None = None,
    **limits: float,
) -> FailoverSmsProvider:
    thresholds = {"errors": 3, "window": 30.0, "slow": 2.0, "step": 10, "hold": 5.0}
    thresholds.update(limits)
    return FailoverSmsProvider(
        {"twilio": twilio_client(fake_twilio), "vonage": vonage_client(fake_vonage)},
        shares or {"twilio": 70, "vonage": 30},
        thresholds=Thresholds(**thresholds),  # type: ignore[arg-type]
        clock=clock.monotonic,
        rng=random.Random(7),
    )


def send(
    sms: FailoverSmsProvider, to: str = "+15551234567", avoid: str | None = None
) -> SendResult:
    return sms.send_sms(
        to=to, body="AMBER Alert", validity_seconds=None, status_callback=None, avoid=avoid
    )


def switches(source: str, target: str) -> float:
    labels = {"from_provider": source, "to_provider": target}
    return EVENTS.get_sample_value("haven_sms_provider_switches_total", labels) or 0.0


def test_traffic_is_shared_by_priority_and_each_answer_names_its_provider(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock)
    chosen = Counter(sms.choose(f"+1555000{n:04d}") for n in range(2000))
    assert 0.65 < chosen["twilio"] / 2000 < 0.75
    results = [send(sms, f"+1555000{n:04d}") for n in range(20)]
    by_provider = Counter(r.provider for r in results)
    assert by_provider == {"twilio": len(fake_twilio.messages), "vonage": len(fake_vonage.messages)}
    assert {r.outcome for r in results} == {"accepted"}


def test_more_than_n_errors_in_the_window_move_priority_to_the_other_provider_step_by_step(
    fake_twilio: FakeTwilio,
    fake_vonage: FakeVonage,
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, shares={"twilio": 50, "vonage": 50})
    before = switches("vonage", "twilio")
    fake_vonage.fail_rate = 1.0  # every request answered 500
    with caplog.at_level(logging.WARNING, logger="alerts.failover"):
        for _ in range(3):  # three errors: not more than N = 3
            sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
        assert sms.priority == {"twilio": 50, "vonage": 50}
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)  # the fourth
        assert sms.priority == {"twilio": 60, "vonage": 40}
        assert switches("vonage", "twilio") == before + 1
        assert "vonage lost 10 points of priority to twilio (4 errors in 30 s)" in caplog.text
        # The evidence is spent, and one change a `hold` at most: four more errors at once
        # change nothing; after the hold, four more take another step.
        for _ in range(4):
            sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
        assert sms.priority == {"twilio": 60, "vonage": 40}
        clock.sleep(5)
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
        assert sms.priority == {"twilio": 70, "vonage": 30}
    assert fake_vonage.messages == []


def send_via(sms: FailoverSmsProvider, name: str) -> SendResult:
    return sms.providers[name].send_sms(
        to="+15550000001", body="AMBER Alert", validity_seconds=None, status_callback=None
    )


def test_the_errors_that_made_a_change_count_for_no_other(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, hold=0.0)
    fake_vonage.fail_rate = 1.0
    for _ in range(4):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 80, "vonage": 20}
    for _ in range(3):  # three fresh errors are not more than N = 3
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 80, "vonage": 20}


def test_errors_spread_wider_than_the_window_are_forgiven(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock)
    fake_vonage.fail_rate = 1.0
    for _ in range(6):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
        clock.sleep(11)  # never more than three within 30 s
    assert sms.priority == {"twilio": 70, "vonage": 30}


def test_a_provider_clearly_slower_than_the_other_loses_priority(
    fake_twilio: FakeTwilio, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Vonage takes 3 s of the failover's (virtual) clock to accept each message; Twilio none.
    with FakeVonage(latency=3.0, sleep=clock.sleep) as slow:
        sms = failover(fake_twilio, slow, clock, shares={"twilio": 50, "vonage": 50})
        for n in range(10):
            assert send(sms, f"+1555000{n:04d}", avoid="vonage").provider == "twilio"
        assert sms.priority == {"twilio": 50, "vonage": 50}
        with caplog.at_level(logging.WARNING, logger="alerts.failover"):
            for n in range(10):
                assert send(sms, f"+1555100{n:04d}", avoid="twilio").provider == "vonage"
        assert len(slow.messages) == 10  # every one accepted, slowly
    assert sms.priority == {"twilio": 60, "vonage": 40}
    assert "90% of acceptances took up to 3.0 s" in caplog.text


@pytest.mark.parametrize("twilio_took", [None, 2.5])
def test_slowness_moves_nothing_unless_the_other_provider_is_measured_and_clearly_faster(
    fake_twilio: FakeTwilio, clock: VirtualClock, twilio_took: float | None
) -> None:
    # Vonage is slow (3 s) in absolute terms; Twilio is unmeasured (at 0: no traffic in the
    # window) or slow too: Vonage is not clearly the slower, so nothing moves.
    with FakeVonage(latency=3.0, sleep=clock.sleep) as slow:
        shares = (
            {"twilio": 0, "vonage": 100} if twilio_took is None else {"twilio": 50, "vonage": 50}
        )
        sms = failover(fake_twilio, slow, clock, shares=shares)
        if twilio_took is not None:
            for _ in range(10):
                sms.record("twilio", "+15550000001", send_via(sms, "twilio"), twilio_took)
            assert sms.priority == shares  # nothing to compare Twilio with yet
        for n in range(12):
            assert send(sms, f"+1555000{n:04d}", avoid="twilio").provider == "vonage"
    assert sms.priority == shares


def test_no_points_go_to_a_provider_over_its_own_error_threshold(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, shares={"twilio": 50, "vonage": 50}, hold=0.0)
    fake_vonage.fail_rate = 1.0
    for _ in range(4):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 60, "vonage": 40}
    # Twilio fails too: Vonage is still over its threshold in the window, so Twilio's
    # errors hand it nothing.
    fake_twilio.fail_rate = 1.0
    for _ in range(4):
        sms.record("twilio", "+15550000001", send_via(sms, "twilio"), 0.1)
    assert sms.priority == {"twilio": 60, "vonage": 40}


def test_a_slow_provider_loses_nothing_to_a_failing_one(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    # The bench's case: Twilio, fast until now, starts failing; Vonage is much slower.
    sms = failover(fake_twilio, fake_vonage, clock, shares={"twilio": 50, "vonage": 50})
    for _ in range(10):
        sms.record("twilio", "+15550000001", send_via(sms, "twilio"), 0.1)
    fake_twilio.fail_rate = 1.0
    for _ in range(4):
        sms.record("twilio", "+15550000001", send_via(sms, "twilio"), 0.1)
    assert sms.priority == {"twilio": 40, "vonage": 60}
    clock.sleep(5)  # the hold is over
    for _ in range(12):
        sms.record("vonage", "+15550000002", send_via(sms, "vonage"), 3.0)
    assert sms.priority == {"twilio": 40, "vonage": 60}


def test_a_provider_erring_on_most_sends_drops_to_0_at_once_and_is_probed_back_gradually(
    fake_twilio: FakeTwilio,
    fake_vonage: FakeVonage,
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # `errors` is 20: the share of errors, not their count, is what acts here.
    sms = failover(fake_twilio, fake_vonage, clock, shares={"twilio": 50, "vonage": 50}, errors=20)
    for _ in range(5):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    fake_vonage.fail_rate = 1.0
    for _ in range(4):  # 4 errors of 9 sends: not most of them
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 50, "vonage": 50}
    with caplog.at_level(logging.WARNING, logger="alerts.failover"):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)  # 5 of 10
    assert sms.priority == {"twilio": 100, "vonage": 0}
    assert "vonage lost 50 points of priority to twilio (5 of its last sends" in caplog.text
    # Probed: once quiet for `recover`, it gets a step back; still failing, it drops to 0
    # again at once (within the hold), after MIN_SAMPLES sends.
    clock.sleep(61)
    sms.choose("+15550000002")
    assert sms.priority == {"twilio": 90, "vonage": 10}
    for _ in range(10):
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 100, "vonage": 0}
    # Recovered: it climbs back a step per `recover` seconds.
    fake_vonage.fail_rate = 0.0
    seen = []
    for _ in range(3):
        clock.sleep(61)
        sms.choose("+15550000002")
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
        seen.append(dict(sms.priority))
    assert seen == [
        {"twilio": 90, "vonage": 10},
        {"twilio": 80, "vonage": 20},
        {"twilio": 70, "vonage": 30},
    ]


def test_priorities_drift_back_to_their_shares_once_the_provider_recovers(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, hold=0.0, recover=60.0)
    fake_vonage.fail_rate = 1.0
    for _ in range(3 * 4):  # three steps of four errors: 30 -> 0
        sms.record("vonage", "+15550000001", send_via(sms, "vonage"), 0.1)
    assert sms.priority == {"twilio": 100, "vonage": 0}
    assert {sms.choose(f"+1555000{n:04d}") for n in range(200)} == {"twilio"}
    fake_vonage.fail_rate = 0.0
    clock.sleep(59)
    sms.choose("+15550000002")
    assert sms.priority == {"twilio": 100, "vonage": 0}  # not quiet for long enough yet
    seen = []
    for _ in range(4):
        clock.sleep(60)
        sms.choose("+15550000002")
        seen.append(dict(sms.priority))
    assert seen == [
        {"twilio": 90, "vonage": 10},
        {"twilio": 80, "vonage": 20},
        {"twilio": 70, "vonage": 30},
        {"twilio": 70, "vonage": 30},  # at rest
    ]


def test_a_number_one_provider_put_off_is_tried_next_through_the_other(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, shares={"twilio": 10, "vonage": 90})
    fake_vonage.throttle = True
    tried = []
    for n in range(30):
        to = f"+1555000{n:04d}"
        first = send(sms, to)
        if first.provider == "vonage":
            assert (first.outcome, first.error_code) == ("retry", "vonage-1")
            again = send(sms, to)
            tried.append(again.provider)
            assert again.outcome == "accepted"
    assert tried
    assert set(tried) == {"twilio"}


def test_many_threads_share_one_failover_safely(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, clock: VirtualClock
) -> None:
    sms = failover(fake_twilio, fake_vonage, clock, hold=0.0)
    fake_vonage.fail_rate = 1.0
    results: list[SendResult] = []
    lock = threading.Lock()

    def work(start: int) -> None:
        for n in range(start, start + 25):
            result = send(sms, f"+1555000{n:04d}")
            with lock:
                results.append(result)

    threads = [threading.Thread(target=work, args=(i * 25,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert sum(sms.priority.values()) == 100  # points only ever move, never vanish
    assert sms.priority["vonage"] < 30
    accepted = [r for r in results if r.outcome == "accepted"]
    assert Counter(r.provider for r in accepted) == {"twilio": len(fake_twilio.messages)}


# End to end: one provider starts answering 500 mid-dispatch.

PHONES = [f"+1312555{n:04d}" for n in range(1000, 1160)]
ERRORS, STEP, SENDERS = 4, 10, 4


@pytest.fixture
def settings_overrides(
    fake_twilio: FakeTwilio, fake_vonage: FakeVonage, public_port: int
) -> dict[str, object]:
    return {
        "public_url": f"http://127.0.0.1:{public_port}",
        **fake_twilio.settings(),
        **fake_vonage.settings(),
        "sms_providers": "twilio:50,vonage:50",
        "sms_failover_errors": ERRORS,
        "sms_failover_window_seconds": 300.0,
        "sms_failover_step": STEP,
        "sms_failover_hold_seconds": 0.0,
        "sms_failover_recover_seconds": 3600.0,
        "sms_rate_per_second": 1000.0,
        "dispatch_senders": SENDERS,
        "dispatch_batch": 20,
        "dispatch_max_attempts": 30,
    }


@pytest.fixture
def running(app: Flask, public_port: int) -> Iterator[Flask]:
    use_dispatcher(app, backoff=lambda attempts: datetime.timedelta(0))
    with serving(app, public_port):
        runner = start_dispatch(app)
        yield app
        runner.stop()


def test_when_vonage_starts_failing_mid_dispatch_twilio_takes_over_and_everyone_is_reached_once(
    running: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    fake_vonage: FakeVonage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_subscribers(running, [(p, *LOOP) for p in PHONES])
    sms = running.extensions["haven.dispatcher"].sms
    assert isinstance(sms, FailoverSmsProvider)
    before = switches("vonage", "twilio")
    fake_vonage.fail_after = 10  # after ten messages, every request is answered 500
    with caplog.at_level(logging.WARNING, logger="alerts.failover"):
        approve(client, officers)
        wait_for(lambda: counts(running) == {"queued": len(PHONES)}, timeout=90)
        time.sleep(0.3)  # nothing more arrives
    reached = Counter(m.to for m in fake_twilio.messages) + Counter(
        "+" + m.to for m in fake_vonage.messages
    )
    assert reached == Counter(PHONES)  # everyone, exactly once
    assert len(fake_vonage.messages) == 10

    # Twilio took over: Vonage lost its 50 points in five steps of more than ERRORS errors
    # each, give or take the sends each sender had in flight when a step was taken.
    assert sms.priority == {"twilio": 100, "vonage": 0}
    refused = fake_vonage.requests - len(fake_vonage.messages)
    assert refused <= (50 // STEP) * (ERRORS + 1) + SENDERS * (50 // STEP)
    assert switches("vonage", "twilio") == before + 50 // STEP
    assert caplog.text.count("SMS provider vonage lost 10 points of priority to twilio") == 5
    with running.app_context():
        rows = get_session().execute(
            select(Delivery.provider, func.count()).group_by(Delivery.provider)
        )
        by_provider = {provider: n for provider, n in rows}
    assert by_provider == {"twilio": len(PHONES) - 10, "vonage": 10}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'haven_sms_provider_priority{provider="vonage"} 0.0' in metrics
    assert 'haven_sms_provider_priority{provider="twilio"} 100.0' in metrics


def test_a_number_one_provider_put_off_goes_to_the_other_next_from_any_worker_process(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    fake_vonage: FakeVonage,
) -> None:
    # Each round of sending gets a failover of its own, as each worker process has: only
    # the delivery row (Delivery.provider) tells the next round who put a message off.
    phones = PHONES[:20]
    create_subscribers(app, [(p, *LOOP) for p in phones])
    fake_vonage.throttle = True  # every message answered "throttled": try later
    approve(client, officers)
    with app.app_context():
        session = get_session()
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            pass
        put_off = 0
        for seed in (1, 2):
            fresh = FailoverSmsProvider(
                {"twilio": twilio_client(fake_twilio), "vonage": vonage_client(fake_vonage)},
                {"twilio": 10, "vonage": 90},
                rng=random.Random(seed),
            )
            dispatcher = use_dispatcher(app, backoff=no_wait, sms=fresh)
            claimed = send_due(app=app, session=session, dispatcher=dispatcher)
            assert claimed == (len(phones) if seed == 1 else put_off)
            put_off = fake_vonage.requests
        assert put_off > 10  # most went to Vonage in the first round, which put them off
    assert counts(app) == {"queued": len(phones)}
    assert Counter(m.to for m in fake_twilio.messages) == Counter(phones)
    assert fake_vonage.requests == put_off  # no second try went to Vonage
