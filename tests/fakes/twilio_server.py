"""A fake Twilio Messages API on loopback, for the official twilio client to talk to.

It speaks the part of the REST API Haven uses, as Twilio does: `POST
/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth (the account SID and
auth token) and form fields To, Body, From or MessagingServiceSid, ValidityPeriod and
StatusCallback; `201` with the Message resource's JSON, or Twilio's error JSON (`{"code",
"message", "more_info", "status"}`). It can fail at random (429 or 5xx), refuse given numbers
with given error codes, answer slowly, and POST signed status callbacks.

    with FakeTwilio(error_for={"+15005550009": 21610}) as fake:
        provider = TwilioSmsProvider(fake.account_sid, fake.auth_token,
                                     from_number="+15005550006", api_base=fake.url)
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import email.utils
import hmac
import json
import random
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from alerts.sms import segments
from tests.fakes import LoopbackHTTPServer, QuietHandler

API_VERSION = "2010-04-01"
_CREATE = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json$")
_FETCH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>SM\w+)\.json$")

# The messages of the errors it can give (https://www.twilio.com/docs/api/errors).
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "The 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}
# The error code Twilio puts in the body of each HTTP status it fails with.
STATUS_CODES = {429: 20429, 500: 20500, 503: 20503}


@dataclasses.dataclass
class FakeMessage:
    """One message the fake accepted."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    validity_period: int | None
    status_callback: str | None
    received_at: float  # time.monotonic()
    status: str
    # A delivery error (30xxx) to report in its status callback, from `error_for`.
    error_code: int | None = None

    def resource(self) -> dict[str, Any]:
        """The Message resource's JSON, as Twilio returns it."""
        now = email.utils.format_datetime(datetime.datetime.now(datetime.UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(segments(self.body).count),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


def error_body(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's error JSON."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(QuietHandler):
    def _answer(self, status: int, payload: dict[str, Any], **headers: str) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def _route(self, pattern: re.Pattern[str]) -> tuple[FakeTwilio, re.Match[str]] | None:
        fake: FakeTwilio = self.server.owner
        match = pattern.match(self.path.split("?", 1)[0])
        if match is None:
            self._answer(404, error_body(404, 20404))
            return None
        if not fake._authorized(self.headers.get("Authorization"), match["account"]):
            self._answer(
                401, error_body(401, 20003), **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
            return None
        return fake, match

    def do_POST(self) -> None:
        """Create a message."""
        form = {k: v[-1] for k, v in parse_qs(self.read_body().decode()).items()}
        routed = self._route(_CREATE)
        if routed is None:
            return
        fake, match = routed
        with fake._lock:
            fake.requests += 1
        if fake.latency:
            time.sleep(fake.latency)
        failure = fake._fails()
        if failure is not None:
            headers = {"Retry-After": f"{fake.retry_after:g}"} if fake.retry_after else {}
            code = STATUS_CODES.get(failure, 20500)
            self._answer(failure, error_body(failure, code), **headers)
            return
        status, payload = fake._create(match["account"], form)
        self._answer(status, payload)

    def do_GET(self) -> None:
        """Fetch a message."""
        routed = self._route(_FETCH)
        if routed is not None:
            fake, match = routed
            self._answer(*fake._fetch(match["sid"]))


class FakeTwilio(LoopbackHTTPServer):
    """The Twilio Messages API on 127.0.0.1.

    fail_rate: the share of requests answered with one of `fail_statuses` (429 carries code
    20429, 500 code 20500), chosen with a seeded random generator; `retry_after` adds a
    Retry-After header to those answers. error_for: recipient number -> Twilio error code;
    a 2xxxx code refuses the request with HTTP 400 as Twilio does (21610: the recipient
    replied STOP; 21211: invalid number), a 3xxxx code accepts it and reports the code as
    "undelivered" in its status callback. latency: seconds to wait before answering.
    Attributes may be changed while it runs.
    """

    handler = _Handler

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        fail_rate: float = 0.0,
        fail_statuses: Iterable[int] = (429, 500),
        retry_after: float | None = None,
        error_for: Mapping[str, int] | None = None,
        latency: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.fail_rate = fail_rate
        self.fail_statuses = tuple(fail_statuses)
        self.retry_after = retry_after
        self.error_for = dict(error_for or {})
        self.latency = latency
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._messages: list[FakeMessage] = []
        self.requests = 0  # every request to the Messages API, answered or refused

    def settings(self, *, from_number: str = "+15005550006") -> dict[str, object]:
        """The Haven settings that point its Twilio client at this fake."""
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from_number": from_number,
            "twilio_api_base": self.url,
        }

    @property
    def messages(self) -> list[FakeMessage]:
        """Every accepted message, in order of arrival (a copy)."""
        with self._lock:
            return list(self._messages)

    def rate(self, window: float = 1.0) -> float:
        """The peak rate of accepted messages: the most accepted within any `window` seconds,
        per second."""
        times = sorted(m.received_at for m in self.messages)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] > window:
                start += 1
            best = max(best, end - start + 1)
        return best / window

    def deliver_callbacks(
        self,
        status: str = "delivered",
        *,
        sids: Iterable[str] | None = None,
        error_for: Mapping[str, int] | None = None,
    ) -> list[tuple[str, int]]:
        """POST a signed status callback for each accepted message that asked for one.

        A message refused with a 3xxxx code in `error_for` reports "undelivered" with its
        ErrorCode instead. This call's own `error_for` (recipient number -> code) reports a
        code for this round: a 3xxxx code as "undelivered" (30005: unknown handset; 30006:
        landline), any other as "failed" (21610: the number has opted out, which a Messaging
        Service finds only after accepting the message). Returns (message SID, HTTP status of
        the callback) pairs.
        """
        wanted = set(sids) if sids is not None else None
        validator = RequestValidator(self.auth_token)
        results: list[tuple[str, int]] = []
        for message in self.messages:
            if not message.status_callback or (wanted is not None and message.sid not in wanted):
                continue
            error_code = (error_for or {}).get(message.to, message.error_code)
            final = status
            if error_code:
                final = "undelivered" if error_code >= 30000 else "failed"
            params = {
                "AccountSid": message.account_sid,
                "ApiVersion": API_VERSION,
                "From": message.from_ or "",
                "MessageSid": message.sid,
                "MessageStatus": final,
                "SmsSid": message.sid,
                "SmsStatus": final,
                "To": message.to,
            }
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if error_code:
                params["ErrorCode"] = str(error_code)
            signature = validator.compute_signature(message.status_callback, params)
            request = urllib.request.Request(
                message.status_callback,
                data=urlencode(params).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                    "User-Agent": "TwilioProxy/1.1",
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            with self._lock:
                message.status = final
            results.append((message.sid, code))
        return results

    # The request side, called by the handler.

    def _authorized(self, header: str | None, account: str) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
            and account == self.account_sid
        )

    def _fails(self) -> int | None:
        with self._lock:
            if self.fail_rate and self._random.random() < self.fail_rate:
                return self._random.choice(self.fail_statuses)
        return None

    def _create(self, account: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to, body = form.get("To"), form.get("Body")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return 400, error_body(400, 21604)
        if not body:
            return 400, error_body(400, 21602)
        if not sender and not service:
            return 400, error_body(400, 21603)
        code = self.error_for.get(to)
        if code is not None and code < 30000:
            return 400, error_body(400, code)
        validity = form.get("ValidityPeriod")
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=account,
            to=to,
            from_=sender,
            messaging_service_sid=service,
            body=body,
            validity_period=int(validity) if validity else None,
            status_callback=form.get("StatusCallback"),
            received_at=time.monotonic(),
            # A Messaging Service picks the sender later: Twilio says "accepted" until then.
            status="queued" if sender else "accepted",
            error_code=code,
        )
        with self._lock:
            self._messages.append(message)
        return 201, message.resource()

    def _fetch(self, sid: str) -> tuple[int, dict[str, Any]]:
        for message in self.messages:
            if message.sid == sid:
                return 200, message.resource()
        return 404, error_body(404, 20404)
