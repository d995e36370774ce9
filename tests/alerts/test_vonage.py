"""Vonage, the second SMS provider: the official SDK against a Vonage SMS API on loopback over
TLS; its answers mapped as Twilio's are; its signed delivery receipts and inbound messages
through Haven's webhooks, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.models import Delivery, Subscriber
from alerts.providers import LogSmsProvider, SendResult, TwilioSmsProvider, make_sms_provider
from alerts.vonage import VonageSmsProvider, make_vonage_provider, verify_signature
from haven.db import get_session
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve, dispatch, subscriber_status, wait_for
from tests.conftest import make_settings
from tests.factories import create_subscribers, serving
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.vonage_server import FakeVonage

PARENT = "+15551234567"
BARRED = "+15005550009"
INSIDE = ["+13125550101", "+13125550102", "+13125550103"]


def provider(fake: FakeVonage, **kw: object) -> VonageSmsProvider:
    options: dict[str, object] = {
        "from_": "+15005550006",
        "rest_host": fake.rest_host,
        "ca_bundle": fake.ca_bundle,
        "timeout": 5,
        "callback_url": "https://haven.example.org/webhooks/vonage/status",
    }
    options.update(kw)
    return VonageSmsProvider(fake.api_key, fake.api_secret, **options)  # type: ignore[arg-type]


def send(sms: VonageSmsProvider, to: str = PARENT, **kw: object) -> SendResult:
    options: dict[str, object] = {"body": "AMBER Alert", "validity_seconds": None}
    options.update(kw)
    options.setdefault("status_callback", None)
    return sms.send_sms(to=to, **options)  # type: ignore[arg-type]


# Sending


def test_vonage_accepts_a_message_and_answers_with_its_message_id(
    fake_vonage: FakeVonage,
) -> None:
    result = send(
        provider(fake_vonage),
        validity_seconds=3600,
        status_callback="https://haven.example.org/webhooks/twilio/status",
    )
    (message,) = fake_vonage.messages
    assert result == SendResult(
        "accepted", status="queued", provider_id=message.message_id, provider="vonage"
    )
    assert (message.to, message.from_, message.text, message.type) == (
        PARENT.removeprefix("+"),
        "15005550006",
        "AMBER Alert",
        "text",
    )
    assert message.ttl == 3_600_000  # milliseconds
    # Vonage posts its receipts to its own route, not to Twilio's.
    assert message.callback == "https://haven.example.org/webhooks/vonage/status"
    assert message.status_report_req


def test_a_message_outside_gsm_7_goes_as_unicode_and_the_ttl_is_clamped(
    fake_vonage: FakeVonage,
) -> None:
    sms = provider(fake_vonage)
    send(sms, body="تنبيه أمبر", validity_seconds=1)
    send(sms, body="AMBER Alert €", validity_seconds=10**7)
    arabic, euro = fake_vonage.messages
    assert (arabic.type, euro.type) == ("unicode", "text")  # € is in GSM-7's extension
    assert (arabic.ttl, euro.ttl) == (20_000, 604_800_000)  # Vonage's range
    assert arabic.callback is None
    assert not arabic.status_report_req


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(
            {"status_for": {BARRED.removeprefix("+"): "7"}},
            SendResult("failed", error_code="vonage-7", provider="vonage"),
            id="number-barred-fails",
        ),
        pytest.param(
            {"status_for": {BARRED.removeprefix("+"): "6"}},
            SendResult("failed", error_code="vonage-6", provider="vonage"),
            id="invalid-message-fails",
        ),
        pytest.param(
            {"throttle": True},
            SendResult("retry", error_code="vonage-1", spends_attempt=False, provider="vonage"),
            id="throttled-spends-no-attempt",
        ),
        pytest.param(
            {"fail_rate": 1.0, "fail_statuses": (500,)},
            SendResult("retry", error_code="500", provider="vonage"),
            id="http-500-may-have-taken-it",
        ),
        pytest.param(
            {"fail_rate": 1.0, "fail_statuses": (503,)},
            SendResult("retry", error_code="503", spends_attempt=False, provider="vonage"),
            id="http-503-took-nothing",
        ),
        pytest.param(
            {"fail_rate": 1.0, "fail_statuses": (429,), "retry_after": 7},
            SendResult(
                "retry", error_code="429", retry_after=7.0, spends_attempt=False, provider="vonage"
            ),
            id="http-429-with-retry-after",
        ),
    ],
)
def test_vonages_answers_map_onto_accepted_retry_and_failed_as_twilios_do(
    setup: dict[str, object], expected: SendResult
) -> None:
    with FakeVonage(**setup) as fake:  # type: ignore[arg-type]
        assert send(provider(fake), to=BARRED) == expected
        assert fake.messages == []


def test_refused_credentials_are_retried_without_spending_an_attempt_loudly(
    fake_vonage: FakeVonage, caplog: pytest.LogCaptureFixture
) -> None:
    sms = VonageSmsProvider(
        fake_vonage.api_key,
        "not-the-secret",
        from_="Haven",
        rest_host=fake_vonage.rest_host,
        ca_bundle=fake_vonage.ca_bundle,
    )
    with caplog.at_level(logging.ERROR, logger="alerts.vonage"):
        result = send(sms)
    assert result == SendResult(
        "retry", error_code="vonage-4", spends_attempt=False, provider="vonage"
    )
    assert "refused Haven's account" in caplog.text
    assert "not-the-secret" not in caplog.text


def test_a_server_haven_does_not_trust_gets_nothing(fake_vonage: FakeVonage) -> None:
    # Without the fake's CA bundle the certificate is refused: verification is never off.
    result = send(provider(fake_vonage, ca_bundle=None))
    assert (result.outcome, result.spends_attempt) == ("retry", True)
    assert fake_vonage.messages == []


def test_part_of_a_vonage_configuration_is_refused(fake_vonage: FakeVonage) -> None:
    url = "sqlite://"
    assert make_vonage_provider(make_settings(url)) is None
    with pytest.raises(ValueError, match="VONAGE_FROM"):
        make_vonage_provider(make_settings(url, VONAGE_API_KEY="k", VONAGE_API_SECRET="s"))
    only_vonage = make_settings(url, **fake_vonage.settings())
    assert isinstance(make_sms_provider(only_vonage), VonageSmsProvider)
    assert isinstance(make_sms_provider(make_settings(url)), LogSmsProvider)
    with FakeTwilio() as twilio:
        only_twilio = make_settings(url, **twilio.settings())
        assert isinstance(make_sms_provider(only_twilio), TwilioSmsProvider)


# Signatures


def test_the_webhook_signature_matches_the_sdks_vector_and_vonages_documented_scheme() -> None:
    # The vonage SDK's own test vector (vonage_http_client tests, test_sign_params).
    params = {"param1": "value1", "param2": "value2", "timestamp": "1234567890"}
    sig = "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"
    signed = {**params, "sig": sig.upper()}  # Vonage may send it in capitals
    assert verify_signature(signed, api_key=None, secret="signature_secret", method="sha256")
    # Vonage's scheme: "&key=value" for every field but sig, sorted by key, "&" and "=" in
    # values replaced by "_", HMAC-ed with the signature secret.
    fields = {"msisdn": "15551234567", "text": "STOP & go=now", "timestamp": "1700000000"}
    joined = "".join(
        f"&{k}={fields[k].replace('&', '_').replace('=', '_')}" for k in sorted(fields)
    )
    mac = hmac.new(b"s3cret", joined.encode(), hashlib.sha512).hexdigest()
    assert verify_signature({**fields, "sig": mac}, api_key=None, secret="s3cret", method="sha512")
    for forged in (
        {**fields, "sig": mac, "text": "START"},  # a field changed
        {**fields, "sig": mac.replace(mac[0], "0" if mac[0] != "0" else "1")},
        {k: v for k, v in fields.items() if k != "timestamp"} | {"sig": mac},
        fields,  # unsigned
    ):
        assert not verify_signature(forged, api_key=None, secret="s3cret", method="sha512")
    # Signed for another account.
    other = {**fields, "api-key": "other"}
    assert not verify_signature(
        other | {"sig": mac}, api_key="mine", secret="s3cret", method="sha512"
    )


# Through Haven: receipts and inbound messages


@pytest.fixture
def settings_overrides(fake_vonage: FakeVonage, public_port: int) -> dict[str, object]:
    """Vonage alone sends; Haven is served on its public URL for the receipts."""
    return {
        "public_url": f"http://127.0.0.1:{public_port}",
        **fake_vonage.settings(),
        "sms_rate_per_second": 500.0,
    }


@pytest.fixture
def served(app: Flask, public_port: int) -> Iterator[Flask]:
    with serving(app, public_port):
        yield app


def delivery_rows(app: Flask) -> dict[str, tuple[str, str | None, str | None]]:
    """(status, provider, error code) of each SMS delivery of version 1, by phone."""
    with app.app_context():
        rows = get_session().execute(
            select(Subscriber.phone, Delivery.status, Delivery.provider, Delivery.error_code)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.version == 1)
        )
        return {str(phone): (status, provider, code) for phone, status, provider, code in rows}


@pytest.mark.parametrize(("err", "becomes"), [("9", "opted_out"), ("3", "unreachable")])
def test_signed_receipts_move_deliveries_forward_and_a_permanent_one_stops_the_number(
    served: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_vonage: FakeVonage,
    err: str,
    becomes: str,
) -> None:
    create_subscribers(served, [(p, *LOOP) for p in INSIDE])
    approve(client, officers)
    dispatch(served)
    assert sorted("+" + m.to for m in fake_vonage.messages) == INSIDE
    assert delivery_rows(served) == dict.fromkeys(INSIDE, ("queued", "vonage", None))
    gone = INSIDE[1]
    message = next(m for m in fake_vonage.messages if "+" + m.to == gone)
    callback = message.callback or ""
    assert callback.endswith("/webhooks/vonage/status")

    # Unsigned or forged, the same receipt is refused and changes nothing.
    receipt = {"messageId": message.message_id, "status": "failed", "err-code": err}
    assert fake_vonage.post(callback, receipt, signed=False) == 403
    forged = {**fake_vonage.sign(receipt), "err-code": "0", "status": "delivered"}
    assert fake_vonage.post(callback, forged, signed=False) == 403
    assert client.post("/webhooks/vonage/status", data=receipt).status_code == 403
    assert subscriber_status(served, gone) == "active"
    assert delivery_rows(served)[gone][0] == "queued"

    # Signed by Vonage, each receipt lands; a repeat of the permanent one changes nothing more.
    for _ in range(2):
        results = fake_vonage.deliver_receipts(err_for={gone.removeprefix("+"): err})
        assert {status for _, status in results} == {204}
    rows = delivery_rows(served)
    assert rows[gone] == ("undelivered", "vonage", f"vonage-dlr-{err}")
    assert [rows[p] for p in (INSIDE[0], INSIDE[2])] == [("delivered", "vonage", None)] * 2
    assert subscriber_status(served, gone) == becomes
    assert [subscriber_status(served, p) for p in (INSIDE[0], INSIDE[2])] == ["active"] * 2


def test_stop_texted_to_a_vonage_number_opts_out_and_is_answered_through_vonage(
    served: Flask, client: FlaskClient, fake_vonage: FakeVonage, public_port: int
) -> None:
    create_subscribers(served, [(INSIDE[0], *LOOP)])
    url = f"http://127.0.0.1:{public_port}/webhooks/vonage/inbound"
    # Forged or unsigned, STOP is refused and changes nothing.
    stop = {"msisdn": INSIDE[0].removeprefix("+"), "text": "STOP", "to": "15005550006"}
    assert fake_vonage.post(url, stop, signed=False) == 403
    forged = {**fake_vonage.sign({**stop, "text": "HELP"}), "text": "STOP"}
    assert fake_vonage.post(url, forged, signed=False) == 403
    assert subscriber_status(served, INSIDE[0]) == "active"
    assert fake_vonage.messages == []

    assert fake_vonage.send_inbound(url, msisdn=INSIDE[0], text="STOP") == 204
    assert subscriber_status(served, INSIDE[0]) == "opted_out"
    wait_for(lambda: len(fake_vonage.messages) == 1)
    (reply,) = fake_vonage.messages
    assert reply.to == INSIDE[0].removeprefix("+")
    assert "START" in reply.text  # how to come back

    assert fake_vonage.send_inbound(url, msisdn=INSIDE[0], text="START") == 204
    assert subscriber_status(served, INSIDE[0]) == "active"
