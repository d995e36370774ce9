"""The delivery providers, each driven through its real client against a real server on
loopback: the twilio client against FakeTwilio, Apprise against SMTP and webhook servers."""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from alerts.providers import (
    APPRISE_BAD_URL,
    APPRISE_FAILED,
    AppriseChannelProvider,
    LogSmsProvider,
    SendResult,
    TwilioSmsProvider,
    make_sms_provider,
    redact,
)
from tests.conftest import make_settings
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.tarpit import Tarpit
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.webhook_server import WebhookServer

SENDER = "+15005550006"
PARENT = "+15551234567"
STOPPED = "+15005550009"  # replied STOP
INVALID = "+15005550001"


def provider(fake: FakeTwilio, **kw: object) -> TwilioSmsProvider:
    options: dict[str, object] = {"from_number": SENDER, "api_base": fake.url, "timeout": 5}
    options.update(kw)
    return TwilioSmsProvider(fake.account_sid, fake.auth_token, **options)  # type: ignore[arg-type]


def send(sms: TwilioSmsProvider, to: str = PARENT, **kw: object) -> SendResult:
    options: dict[str, object] = {"body": "AMBER Alert", "validity_seconds": None}
    options.update(kw)
    options.setdefault("status_callback", None)
    return sms.send_sms(to=to, **options)  # type: ignore[arg-type]


def dead_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Twilio


def test_twilio_accepts_a_message_and_answers_with_its_sid_and_status(
    fake_twilio: FakeTwilio,
) -> None:
    result = send(provider(fake_twilio), body="AMBER Alert (Chicago PD) €")
    (message,) = fake_twilio.messages
    assert result == SendResult("accepted", status="queued", provider_id=message.sid)
    assert message.sid.startswith("SM")
    assert len(message.sid) == 34
    assert (message.to, message.from_, message.body) == (
        PARENT,
        SENDER,
        "AMBER Alert (Chicago PD) €",
    )


def test_the_validity_period_and_status_callback_reach_twilio(fake_twilio: FakeTwilio) -> None:
    sms = provider(fake_twilio)
    send(sms, validity_seconds=3600, status_callback="https://haven.example.org/twilio/status")
    send(sms, validity_seconds=10**6)
    send(sms, validity_seconds=0)
    first, too_long, too_short = fake_twilio.messages
    assert first.validity_period == 3600
    assert first.status_callback == "https://haven.example.org/twilio/status"
    # Twilio takes 1 to 36000 seconds: longer and shorter are clamped, not refused.
    assert (too_long.validity_period, too_short.validity_period) == (36000, 1)
    assert too_long.status_callback is None


def test_a_messaging_service_sends_without_a_from_number(fake_twilio: FakeTwilio) -> None:
    sms = provider(fake_twilio, from_number=None, messaging_service_sid="MG" + "0" * 32)
    result = send(sms)
    (message,) = fake_twilio.messages
    assert result.outcome == "accepted"
    assert result.status == "accepted"  # Twilio's first status for a messaging service
    assert (message.from_, message.messaging_service_sid) == (None, "MG" + "0" * 32)


def test_a_provider_without_a_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="from number"):
        TwilioSmsProvider("AC" + "0" * 32, "token")


def test_too_many_requests_is_retried_after_twilios_retry_after(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_rate, fake_twilio.fail_statuses, fake_twilio.retry_after = 1.0, (429,), 7
    assert send(provider(fake_twilio)) == SendResult(
        "retry", error_code="20429", retry_after=7.0, spends_attempt=False
    )
    assert fake_twilio.messages == []


@pytest.mark.parametrize(("status", "spends"), [(500, True), (503, False)])
def test_a_twilio_server_error_is_retried_and_only_503_spends_no_attempt(
    fake_twilio: FakeTwilio, status: int, spends: bool
) -> None:
    # After a 500 the message may exist: only "unavailable" says Twilio took nothing.
    fake_twilio.fail_rate, fake_twilio.fail_statuses = 1.0, (status,)
    result = send(provider(fake_twilio))
    assert (result.outcome, result.retry_after, result.spends_attempt) == ("retry", None, spends)


def test_a_number_that_replied_stop_fails_with_21610() -> None:
    with FakeTwilio(error_for={STOPPED: 21610}) as fake:
        assert send(provider(fake), STOPPED) == SendResult("failed", error_code="21610")
        assert send(provider(fake)).outcome == "accepted"


def test_an_invalid_number_fails_with_21211() -> None:
    with FakeTwilio(error_for={INVALID: 21211}) as fake:
        assert send(provider(fake), INVALID) == SendResult("failed", error_code="21211")


def test_another_refusal_fails_with_its_code() -> None:
    with FakeTwilio(error_for={PARENT: 21614}) as fake:
        assert send(provider(fake)) == SendResult("failed", error_code="21614")


def test_wrong_credentials_are_retried_without_spending_an_attempt_and_logged_as_errors(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    sms = TwilioSmsProvider(
        fake_twilio.account_sid, "wrong-token", from_number=SENDER, api_base=fake_twilio.url
    )
    with caplog.at_level(logging.ERROR, logger="alerts.providers"):
        assert send(sms) == SendResult("retry", error_code="20003", spends_attempt=False)
    assert "credentials" in caplog.text
    assert fake_twilio.messages == []


def test_a_twilio_that_is_down_is_retried() -> None:
    sms = TwilioSmsProvider(
        "AC" + "0" * 32, "token", from_number=SENDER, api_base=f"http://127.0.0.1:{dead_port()}"
    )
    assert send(sms) == SendResult("retry")  # Twilio may have taken it: this spends an attempt


def test_a_twilio_too_slow_to_answer_is_retried() -> None:
    with FakeTwilio(latency=0.5) as fake:
        assert send(provider(fake, timeout=0.1)) == SendResult("retry")


def test_random_failures_are_retried_until_each_message_is_accepted_once() -> None:
    with FakeTwilio(fail_rate=0.3, seed=7) as fake:
        sms = provider(fake)
        sids = []
        for index in range(30):
            for _ in range(20):
                result = send(sms, body=f"message {index}")
                if result.outcome == "accepted":
                    sids.append(result.provider_id)
                    break
                assert result.outcome == "retry"
        assert len(set(sids)) == 30
        assert [m.body for m in fake.messages] == [f"message {i}" for i in range(30)]
        assert fake.requests > 30  # some were refused and tried again


def test_one_provider_sends_from_many_threads(fake_twilio: FakeTwilio) -> None:
    sms = provider(fake_twilio)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: send(sms, body=f"message {i}"), range(80)))
    assert {r.outcome for r in results} == {"accepted"}
    assert len({r.provider_id for r in results}) == 80
    assert sorted(m.body for m in fake_twilio.messages) == sorted(f"message {i}" for i in range(80))
    assert 0 < fake_twilio.rate(window=60) <= 80 / 60


def test_status_callbacks_are_signed_so_that_request_validator_accepts_them(
    webhook_server: WebhookServer,
) -> None:
    callback = f"{webhook_server.url}/twilio/status?alert=42"
    with FakeTwilio(error_for={"+15005550004": 30003}) as fake:
        sms = provider(fake)
        delivered = send(sms, status_callback=callback)
        unreachable = send(sms, "+15005550004", status_callback=callback)
        assert fake.deliver_callbacks() == [
            (delivered.provider_id, 200),
            (unreachable.provider_id, 200),
        ]
        validator = RequestValidator(fake.auth_token)
    first, second = webhook_server.hooks
    for hook in (first, second):
        params = dict(parse_qsl(hook.body.decode()))
        assert hook.path == "/twilio/status?alert=42"
        assert validator.validate(callback, params, hook.headers["X-Twilio-Signature"])
        assert not validator.validate(
            callback, {**params, "To": "+1"}, hook.headers["X-Twilio-Signature"]
        )
    assert dict(parse_qsl(first.body.decode()))["MessageStatus"] == "delivered"
    failed = dict(parse_qsl(second.body.decode()))
    assert (failed["MessageStatus"], failed["ErrorCode"]) == ("undelivered", "30003")


def test_the_auth_token_never_reaches_the_log(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    sms = provider(fake_twilio)
    with caplog.at_level(logging.DEBUG):
        send(sms)
        fake_twilio.fail_rate = 1.0
        send(sms)
        send(
            TwilioSmsProvider(
                fake_twilio.account_sid, "wrong", from_number=SENDER, api_base=fake_twilio.url
            )
        )
    assert fake_twilio.auth_token not in caplog.text
    assert fake_twilio.auth_token not in repr(sms)
    assert "Authorization" not in caplog.text
    # Nor do request URLs, from Haven or the twilio client (urllib3 logs paths at DEBUG).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("alerts", "twilio"))]
    assert ours
    assert not [m for m in ours if "/Accounts/" in m]


def test_the_fake_twilio_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    with FakeTwilio(fail_rate=0.5) as fake:
        sms = provider(fake)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: send(sms), range(20)))
    assert set(threading.enumerate()) <= before


def test_the_settings_choose_twilio_only_when_it_is_fully_configured() -> None:
    url = "sqlite://"
    assert isinstance(make_sms_provider(make_settings(url)), LogSmsProvider)
    full = make_settings(
        url,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="token",
        twilio_from_number=SENDER,
        twilio_api_base="http://127.0.0.1:1",
    )
    assert isinstance(make_sms_provider(full), TwilioSmsProvider)
    partial = make_settings(url, twilio_account_sid="AC" + "0" * 32, twilio_auth_token="token")
    with pytest.raises(ValueError, match="TWILIO_FROM_NUMBER"):
        make_sms_provider(partial)


def test_settings_with_an_api_base_send_to_it(fake_twilio: FakeTwilio) -> None:
    settings = make_settings(
        "sqlite://",
        twilio_account_sid=fake_twilio.account_sid,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_messaging_service_sid="MG" + "1" * 32,
        twilio_api_base=fake_twilio.url + "/",
    )
    assert (
        make_sms_provider(settings)
        .send_sms(to=PARENT, body="hi", validity_seconds=600, status_callback=None)
        .outcome
        == "accepted"
    )
    assert fake_twilio.messages[0].validity_period == 600


# Apprise


def mail_url(server: SmtpServer) -> str:
    # mailto:// (not mailtos://) is plain SMTP without TLS; no user, so no AUTH.
    return f"mailto://127.0.0.1:{server.port}?from=haven@example.org&to=parent@example.org"


def test_apprise_delivers_an_email_to_an_smtp_server(smtp_server: SmtpServer) -> None:
    result = AppriseChannelProvider().notify(
        url=mail_url(smtp_server),
        title="AMBER Alert (Chicago PD)",
        body="Missing: Jane Doe, 7 años",
    )
    assert result == SendResult("accepted", status="sent")
    (mail,) = smtp_server.mails
    assert (mail.mail_from, mail.rcpt_tos) == ("haven@example.org", ["parent@example.org"])
    assert mail.message["Subject"] == "AMBER Alert (Chicago PD)"
    assert "Missing: Jane Doe, 7 años" in mail.text


def test_apprise_posts_json_to_a_webhook(webhook_server: WebhookServer) -> None:
    url = f"json://127.0.0.1:{webhook_server.port}/hook"
    result = AppriseChannelProvider().notify(url=url, title="Title", body="Body")
    assert result.outcome == "accepted"
    (hook,) = webhook_server.hooks
    assert hook.path == "/hook"
    assert (hook.json["title"], hook.json["message"]) == ("Title", "Body")


def test_each_url_gets_its_own_outcome(webhook_server: WebhookServer) -> None:
    channels = AppriseChannelProvider()
    good = f"json://127.0.0.1:{webhook_server.port}/hook"
    dead = f"json://127.0.0.1:{dead_port()}/hook"
    assert channels.notify(url=good, title="t", body="b").outcome == "accepted"
    assert channels.notify(url=dead, title="t", body="b") == SendResult(
        "failed", error_code=APPRISE_FAILED
    )
    assert channels.notify(url=good, title="t", body="b").outcome == "accepted"
    assert len(webhook_server.hooks) == 2


def test_a_webhook_that_answers_an_error_fails(webhook_server: WebhookServer) -> None:
    webhook_server.status = 500
    url = f"json://127.0.0.1:{webhook_server.port}/hook"
    assert AppriseChannelProvider().notify(url=url, title="t", body="b").outcome == "failed"


def test_a_dead_mail_server_fails(caplog: pytest.LogCaptureFixture) -> None:
    url = f"mailto://user:s3cret@127.0.0.1:{dead_port()}?from=haven@example.org&to=p@example.org"
    with caplog.at_level(logging.WARNING, logger="alerts.providers"):
        result = AppriseChannelProvider().notify(url=url, title="t", body="b")
    assert result == SendResult("failed", error_code=APPRISE_FAILED)
    assert "mailto://127.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text


def test_a_channel_that_never_answers_frees_its_thread_by_the_deadline_whatever_its_url_asks(
    tarpit: Tarpit, webhook_server: WebhookServer
) -> None:
    channels = AppriseChannelProvider(deadline=0.2, workers=2)
    hung = f"json://127.0.0.1:{tarpit.port}/hook?cto=900&rto=900"  # "wait 15 minutes"
    for _ in range(3):  # more sends than the provider has threads
        assert channels.notify(url=hung, title="t", body="b").outcome != "accepted"
    good = f"json://127.0.0.1:{webhook_server.port}/hook"
    assert channels.notify(url=good, title="t", body="b").outcome == "accepted"
    assert tarpit.accepted == 3
    # Each send's thread hung up on the tarpit: none is left holding a connection.
    ends = time.monotonic() + 1.0
    while tarpit.open and time.monotonic() < ends:
        time.sleep(0.01)
    assert tarpit.open == 0


def test_an_unusable_url_fails_without_being_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alerts.providers"):
        result = AppriseChannelProvider().notify(
            url="nosuchscheme://secret-token", title="t", body="b"
        )
    assert result == SendResult("failed", error_code=APPRISE_BAD_URL)
    assert "secret-token" not in caplog.text


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("json://127.0.0.1:8080/hook?token=abc", "json://127.0.0.1"),
        (
            "mailtos://user:pass@smtp.example.org?to=parent@example.org",
            "mailtos://smtp.example.org",
        ),
        ("tgram://123456789:AAHsecret/987654", "tgram://…"),
        ("discord://webhook_id/webhook_token", "discord://…"),
        ("not a url", "?://…"),
    ],
)
def test_a_logged_apprise_url_keeps_only_its_scheme_and_server(url: str, logged: str) -> None:
    assert redact(url) == logged
