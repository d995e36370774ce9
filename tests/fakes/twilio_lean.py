"""A lean fake of Twilio's Messages API for benchmarks: asyncio, HTTP/1.1 keep-alive, one thread.

`FakeTwilio` (twilio_server.py) speaks more of the API (fetching messages, status callbacks,
refusals by number) but answers HTTP/1.0 from a thread per connection: about 1 ms of CPU a
message, as much as the client it measures. This one answers only `POST
/2010-04-01/Accounts/{AccountSid}/Messages.json` (HTTP Basic auth, form fields To and Body),
with a 201 and a Message resource the official twilio client parses, on connections kept
open, parsing no more of each request than it needs: tens of microseconds a message, so a
benchmark measures Haven and its client rather than the fake.

`fail_after`: after that many accepted messages, every request is answered `fail_status`
(500 by default) with Twilio's error JSON, as a provider failing part-way through a dispatch.
`latency`: seconds each answer waits (without holding up the others); `most_pending` is then
the most requests a client had in flight at once.

    with LeanFakeTwilio() as fake:
        provider = TwilioSmsProvider(fake.account_sid, fake.auth_token,
                                     from_number="+15005550006", api_base=fake.url)
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, unquote_plus

_PATH = "/2010-04-01/Accounts/{}/Messages.json"
_REASONS = {201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
_ERROR_CODES = {400: 21604, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


class LeanFakeTwilio:
    """The Messages create endpoint on 127.0.0.1, served by one asyncio loop in a thread.

    `recipients` and `received` (time.monotonic()) hold every accepted message in order of
    arrival; `requests` counts every request to the endpoint, `connections` every connection;
    `first_body` is the first accepted message's text.
    """

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        fail_after: int | None = None,
        fail_status: int = 500,
        latency: float = 0.0,
    ) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.fail_after = fail_after
        self.fail_status = fail_status
        self.latency = latency
        self.pending = 0  # requests received and not answered yet
        self.most_pending = 0  # the most at any moment: how many the client had in flight
        self.recipients: list[str] = []
        self.received: list[float] = []
        self.requests = 0
        self.connections = 0  # TCP connections opened to it
        self.first_body = ""
        self._authorization = (
            b"Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode())
        ).lower()
        self._path = _PATH.format(self.account_sid).encode()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._next = 0
        self._sender = self._service = "null"
        self.port = 0

    @property
    def url(self) -> str:
        """Its base URL, e.g. http://127.0.0.1:54321."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self, *, from_number: str = "+15005550006") -> dict[str, object]:
        """The Haven settings that point its Twilio client at this fake."""
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from_number": from_number,
            "twilio_api_base": self.url,
        }

    def start(self) -> Self:
        """Bind and serve in a background thread."""
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(
                    lambda: _Connection(self), "127.0.0.1", 0, backlog=1024, reuse_address=True
                )
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
            started.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="LeanFakeTwilio", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # Called by the connections, in the loop's thread.

    def answer(self, path: bytes, authorization: bytes, body: bytes) -> bytes:
        """The whole HTTP response to one request."""
        if path.split(b"?", 1)[0] != self._path:
            return _error(404)
        if authorization.lower() != self._authorization:
            return _error(401)
        self.requests += 1
        if self.fail_after is not None and len(self.recipients) >= self.fail_after:
            return _error(self.fail_status)
        # Only the recipient is read from each request; the whole form from the first only.
        at = body.find(b"To=")
        if at < 0 or (at > 0 and body[at - 1] != ord("&")):
            return _error(400)
        end = body.find(b"&", at)
        to = unquote_plus(body[at + 3 : end if end >= 0 else len(body)].decode())
        if not to:
            return _error(400)
        if not self.recipients:
            form = parse_qs(body.decode())
            self.first_body = form.get("Body", [""])[-1]
            self._sender = json.dumps(form["From"][-1]) if "From" in form else "null"
            self._service = (
                json.dumps(form["MessagingServiceSid"][-1])
                if "MessagingServiceSid" in form
                else "null"
            )
        self.recipients.append(to)
        self.received.append(time.monotonic())
        self._next += 1
        sid = f"SM{self._next:032x}"
        sender, service = self._sender, self._service
        status = "queued" if sender != "null" else "accepted"
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        payload = (
            f'{{"account_sid": "{self.account_sid}", "api_version": "2010-04-01", '
            f'"body": "", "date_created": null, "date_sent": null, "date_updated": null, '
            f'"direction": "outbound-api", "error_code": null, "error_message": null, '
            f'"from": {sender}, "messaging_service_sid": {service}, "num_media": "0", '
            f'"num_segments": "1", "price": null, "price_unit": "USD", "sid": "{sid}", '
            f'"status": "{status}", "subresource_uris": {{"media": "{uri}/Media.json"}}, '
            f'"to": {json.dumps(to)}, "uri": "{uri}.json"}}'
        ).encode()
        return _response(201, payload)


def _response(status: int, payload: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def _error(status: int) -> bytes:
    code = _ERROR_CODES.get(status, 20500)
    return _response(
        status,
        json.dumps(
            {
                "code": code,
                "message": _REASONS.get(status, "Error"),
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
        ).encode(),
    )


class _Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered in order."""

    def __init__(self, fake: LeanFakeTwilio) -> None:
        self.fake = fake
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.fake.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            length, authorization, close = 0, b"", False
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"authorization":
                    authorization = value.strip()
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            parts = head[0].split(b" ")
            method, path = parts[0], parts[1] if len(parts) > 1 else b""
            answer = (
                _error(404) if method != b"POST" else self.fake.answer(path, authorization, body)
            )
            close = close or head[0].endswith(b"HTTP/1.0")
            if self.fake.latency:
                self.fake.pending += 1
                self.fake.most_pending = max(self.fake.most_pending, self.fake.pending)
                asyncio.get_running_loop().call_later(
                    self.fake.latency, self._send, answer, close, True
                )
            else:
                self._send(answer, close, False)
            if close:
                return

    def _send(self, answer: bytes, close: bool, delayed: bool) -> None:
        assert self.transport is not None
        if delayed:
            self.fake.pending -= 1
        if not self.transport.is_closing():
            self.transport.write(answer)
            if close:
                self.transport.close()
