"""The SMS providers' async send: Twilio's answers map exactly as the blocking send maps them,
many messages share a few kept-alive connections, and a provider that can only block is run
in a thread. The real client code against real servers on loopback (FakeTwilio, and the lean
asyncio fake the benchmark uses)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from alerts.providers import SendResult, SmsProvider, TwilioSmsProvider, send_sms_async
from tests.fakes.twilio_lean import LeanFakeTwilio
from tests.fakes.twilio_server import FakeTwilio

T = TypeVar("T")

SENDER = "+15005550006"
PARENT = "+15551234567"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: Playwright's sync API (the browser tests) keeps
    an event loop running in the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def provider(fake: FakeTwilio | LeanFakeTwilio, **kw: Any) -> TwilioSmsProvider:
    options: dict[str, Any] = {"from_number": SENDER, "api_base": fake.url, "timeout": 5}
    options.update(kw)
    return TwilioSmsProvider(fake.account_sid, fake.auth_token, **options)


def both(sms: TwilioSmsProvider, to: str = PARENT, **kw: Any) -> tuple[SendResult, SendResult]:
    """The blocking send's answer and the async send's, for the same message."""
    options: dict[str, Any] = {"body": "AMBER Alert", "validity_seconds": 600}
    options.update(kw)
    options.setdefault("status_callback", None)

    async def send_async() -> SendResult:
        try:
            return await sms.send_sms_async(to=to, **options)
        finally:
            await sms.aclose()

    return sms.send_sms(to=to, **options), run(send_async())


def without_sid(result: SendResult) -> SendResult:
    return SendResult(**{**result.__dict__, "provider_id": None})


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({}, SendResult("accepted", status="queued")),
        (
            {"fail_rate": 1.0, "fail_statuses": (429,), "retry_after": 7},
            SendResult("retry", error_code="20429", retry_after=7.0, spends_attempt=False),
        ),
        ({"fail_rate": 1.0, "fail_statuses": (500,)}, SendResult("retry", error_code="20500")),
        (
            {"fail_rate": 1.0, "fail_statuses": (503,)},
            SendResult("retry", error_code="20503", spends_attempt=False),
        ),
        ({"error_for": {PARENT: 21610}}, SendResult("failed", error_code="21610")),
        ({"error_for": {PARENT: 21211}}, SendResult("failed", error_code="21211")),
        ({"error_for": {PARENT: 21614}}, SendResult("failed", error_code="21614")),
    ],
)
def test_the_async_send_maps_each_twilio_answer_as_the_blocking_send_does(
    setup: dict[str, Any], expected: SendResult
) -> None:
    with FakeTwilio(**setup) as fake:
        blocking, concurrent = both(provider(fake))
        if expected.outcome == "accepted":
            assert concurrent.provider_id != blocking.provider_id
            assert [m.sid for m in fake.messages] == [blocking.provider_id, concurrent.provider_id]
            blocking, concurrent = without_sid(blocking), without_sid(concurrent)
    assert blocking == concurrent == expected


def test_the_async_send_reaches_twilio_with_the_same_fields(fake_twilio: FakeTwilio) -> None:
    callback = "https://haven.example.org/webhooks/twilio/status"
    both(provider(fake_twilio), body="AMBER Alert € & more", validity_seconds=10**6,
         status_callback=callback)  # fmt: skip
    first, second = fake_twilio.messages
    for message in (first, second):
        assert (message.to, message.from_, message.body) == (PARENT, SENDER, "AMBER Alert € & more")
        assert (message.validity_period, message.status_callback) == (36000, callback)


def test_the_async_send_keeps_a_messaging_service_sender(fake_twilio: FakeTwilio) -> None:
    sms = provider(fake_twilio, from_number=None, messaging_service_sid="MG" + "0" * 32)
    _, concurrent = both(sms)
    assert (concurrent.outcome, concurrent.status) == ("accepted", "accepted")
    assert fake_twilio.messages[-1].messaging_service_sid == "MG" + "0" * 32


def test_wrong_credentials_are_retried_without_spending_an_attempt_on_the_async_send_too(
    fake_twilio: FakeTwilio,
) -> None:
    sms = TwilioSmsProvider(
        fake_twilio.account_sid, "wrong-token", from_number=SENDER, api_base=fake_twilio.url
    )
    blocking, concurrent = both(sms)
    assert blocking == concurrent == SendResult("retry", error_code="20003", spends_attempt=False)


def test_a_twilio_down_or_too_slow_is_retried_on_the_async_send_too() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = TwilioSmsProvider("AC" + "0" * 32, "token", from_number=SENDER, api_base=dead)
    assert both(down) == (SendResult("retry"), SendResult("retry"))
    with FakeTwilio(latency=0.5) as fake:
        assert both(provider(fake, timeout=0.1)) == (SendResult("retry"), SendResult("retry"))


def test_many_messages_in_flight_share_a_few_kept_alive_connections() -> None:
    numbers = [f"+1312555{n:04d}" for n in range(400)]
    with LeanFakeTwilio() as fake:
        sms = provider(fake)

        async def send_all() -> list[SendResult]:
            try:
                return await asyncio.gather(
                    *(
                        sms.send_sms_async(
                            to=n, body="AMBER Alert", validity_seconds=600, status_callback=None
                        )
                        for n in numbers
                    )
                )
            finally:
                await sms.aclose()

        results = run(send_all())
        assert {r.outcome for r in results} == {"accepted"}
        assert Counter(fake.recipients) == Counter(numbers)
        assert fake.connections <= 100  # the pool's limit: not one connection per message


class BlockingOnly(SmsProvider):
    """A provider with a blocking send only: it inherits the protocol's async adapter."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        self.threads.append(threading.current_thread())
        return SendResult("accepted", status="sent", provider_id=to)


class Structural:
    """A provider that matches the protocol without subclassing it, and has no async send."""

    def send_sms(
        self, *, to: str, body: str, validity_seconds: int | None, status_callback: str | None
    ) -> SendResult:
        return SendResult("accepted", status="sent", provider_id=threading.current_thread().name)


def test_a_blocking_provider_sends_from_a_thread_so_the_event_loop_never_waits() -> None:
    blocking, structural = BlockingOnly(), Structural()
    options: dict[str, Any] = {"body": "hi", "validity_seconds": None, "status_callback": None}

    async def send() -> tuple[SendResult, SendResult]:
        return (
            await send_sms_async(blocking, to="+1", **options),
            await send_sms_async(structural, to="+2", **options),  # type: ignore[arg-type]
        )

    first, second = run(send())
    assert first == SendResult("accepted", status="sent", provider_id="+1")
    assert blocking.threads
    assert blocking.threads[0] is not threading.main_thread()
    assert second.outcome == "accepted"
    assert second.provider_id != threading.main_thread().name
