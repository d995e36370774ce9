"""A fake Vonage SMS API on loopback, over TLS, for the official vonage SDK to talk to.

The SDK builds `https://{rest_host}/sms/json` URLs, so the fake speaks HTTPS with a
self-signed certificate for 127.0.0.1 made when it starts; `ca_bundle` is the file a client
trusts it with (Haven's HAVEN_VONAGE_CA_BUNDLE). It takes the form fields Vonage takes (to,
from, text, type, ttl, status-report-req, callback) with HTTP Basic auth, the API key and
secret in the body, or a signed request (api_key, timestamp, sig), and answers as Vonage does:
HTTP 200 with a status per message ("0" accepted, "1" throttled, "7" number barred, ...), or an
HTTP error. It posts signed delivery receipts and inbound messages to Haven's webhooks.

    with FakeVonage(status_for={"15005550009": "7"}) as fake:
        provider = VonageSmsProvider(fake.api_key, fake.api_secret, from_="Haven",
                                     rest_host=fake.rest_host, ca_bundle=fake.ca_bundle)
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hmac
import ipaddress
import json
import random
import secrets
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from vonage import Auth

from tests.fakes import LoopbackHTTPServer, QuietHandler, _Server

# Vonage's texts for the statuses it can give (developer.vonage.com/en/api-errors/sms).
STATUS_TEXTS = {
    "1": "Throttled",
    "2": "Missing from param",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "6": "Invalid Message",
    "7": "Number Barred",
    "9": "Partner Quota Violation",
    "14": "Invalid Signature",
}


@dataclasses.dataclass
class VonageMessage:
    """One message the fake accepted."""

    message_id: str
    to: str
    from_: str
    text: str
    type: str
    ttl: int | None
    callback: str | None
    status_report_req: bool
    received_at: float  # time.monotonic()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake Vonage on loopback")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "vonage.pem", folder / "vonage.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _TlsServer(_Server):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing: a client that does not trust the certificate hangs up (a test's
        point, sometimes), and the fake's answers are what tests look at."""


class _Handler(QuietHandler):
    def _answer(self, status: int, payload: dict[str, Any], **headers: str) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def do_POST(self) -> None:
        """Send a message."""
        fake: FakeVonage = self.server.owner
        form = {k: v[-1] for k, v in parse_qs(self.read_body().decode()).items()}
        if self.path.split("?", 1)[0] != "/sms/json":
            self._answer(404, {"type": "not-found", "title": "Not Found"})
            return
        with fake._lock:
            fake.requests += 1
        if fake.latency:
            fake.sleep(fake.latency)
        failure = fake._fails()
        if failure is not None:
            headers = {"Retry-After": f"{fake.retry_after:g}"} if fake.retry_after else {}
            self._answer(failure, {"type": "error", "title": f"HTTP {failure}"}, **headers)
            return
        if not fake._authorized(self.headers.get("Authorization"), form):
            self._answer(200, fake._refusal(form.get("to", ""), "4"))
            return
        self._answer(200, fake._send(form))


class FakeVonage(LoopbackHTTPServer):
    """Vonage's SMS API on https://127.0.0.1.

    fail_rate: the share of requests answered with one of `fail_statuses` (HTTP), chosen with a
    seeded random generator; `retry_after` adds a Retry-After header to those. throttle: answer
    status "1" (throttled) to every message. status_for: recipient (without "+") -> a status
    other than "0" to answer for that number. latency: seconds to wait before answering, with
    `sleep` (a VirtualClock's sleep makes it cost no real time). fail_after: once it has let
    this many requests through (each accepted unless refused for another reason), answer every
    request with the first of `fail_statuses` (an outage mid-dispatch). Attributes may be
    changed while it runs.
    """

    handler = _Handler

    def __init__(
        self,
        *,
        fail_rate: float = 0.0,
        fail_statuses: Iterable[int] = (500,),
        retry_after: float | None = None,
        throttle: bool = False,
        status_for: Mapping[str, str] | None = None,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        signature_method: str = "sha256",
        fail_after: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.api_key = secrets.token_hex(4)
        self.api_secret = secrets.token_hex(8)
        self.signature_secret = secrets.token_hex(16)
        self.signature_method = signature_method
        self.fail_rate = fail_rate
        self.fail_statuses = tuple(fail_statuses)
        self.retry_after = retry_after
        self.throttle = throttle
        self.status_for = dict(status_for or {})
        self.latency = latency
        self.sleep = sleep
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._messages: list[VonageMessage] = []
        self._let_through = 0  # requests past the outage check (fail_after counts these)
        self.requests = 0  # every request to /sms/json, answered or refused
        self._folder = tempfile.TemporaryDirectory(prefix="haven-fake-vonage-")
        self.ca_bundle, self._key_file = self_signed(Path(self._folder.name))

    def start(self) -> Self:
        """Bind, wrap the socket in TLS, and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("already running")
        server = _TlsServer(("127.0.0.1", 0), self.handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, self._key_file)
        # The handshake happens in the request's own thread, not in the accepting one.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeVonage"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the certificate."""
        super().stop()
        self._folder.cleanup()

    @property
    def url(self) -> str:
        """Its base URL, e.g. https://127.0.0.1:54321."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def rest_host(self) -> str:
        """What the SDK takes as its REST host: 127.0.0.1:<port>."""
        return f"127.0.0.1:{self.port}"

    def settings(self, *, sender: str = "15005550006") -> dict[str, object]:
        """The Haven settings that point its Vonage client at this fake."""
        return {
            "vonage_api_key": self.api_key,
            "vonage_api_secret": self.api_secret,
            "vonage_signature_secret": self.signature_secret,
            "vonage_signature_method": self.signature_method,
            "vonage_from": sender,
            "vonage_rest_host": self.rest_host,
            "vonage_ca_bundle": self.ca_bundle,
        }

    @property
    def messages(self) -> list[VonageMessage]:
        """Every accepted message, in order of arrival (a copy)."""
        with self._lock:
            return list(self._messages)

    def sign(self, params: Mapping[str, str]) -> dict[str, str]:
        """`params` with Vonage's timestamp and signature added, as its webhooks send them."""
        signed = {**params, "timestamp": str(int(time.time())), "nonce": secrets.token_hex(8)}
        auth = Auth(
            api_key=self.api_key,
            signature_secret=self.signature_secret,
            signature_method=self.signature_method,
        )
        signed["sig"] = auth.sign_params(dict(signed))
        return signed

    def post(self, url: str, params: Mapping[str, str], *, signed: bool = True) -> int:
        """POST a form to Haven (signed unless told otherwise); the HTTP status of the answer."""
        data = self.sign(params) if signed else dict(params)
        request = urllib.request.Request(
            url,
            data=urlencode(data).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def deliver_receipts(
        self,
        status: str = "delivered",
        *,
        ids: Iterable[str] | None = None,
        err_for: Mapping[str, str] | None = None,
    ) -> list[tuple[str, int]]:
        """POST a signed delivery receipt for each accepted message that asked for one.

        `err_for` (recipient without "+" -> err-code) reports that number's message as
        "failed" with the err-code (3: absent subscriber, permanent; 9: the user asked for no
        more messages). Returns (message id, HTTP status of Haven's answer) pairs.
        """
        wanted = set(ids) if ids is not None else None
        results: list[tuple[str, int]] = []
        for message in self.messages:
            if not message.callback or (wanted is not None and message.message_id not in wanted):
                continue
            err = (err_for or {}).get(message.to, "0")
            params = {
                "msisdn": message.to,
                "to": message.from_,
                "network-code": "310260",
                "messageId": message.message_id,
                "price": "0.00750000",
                "status": "failed" if err != "0" else status,
                "scts": datetime.datetime.now(datetime.UTC).strftime("%y%m%d%H%M"),
                "err-code": err,
                "api-key": self.api_key,
                "message-timestamp": datetime.datetime.now(datetime.UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
            }
            results.append((message.message_id, self.post(message.callback, params)))
        return results

    def send_inbound(self, url: str, *, msisdn: str, text: str, to: str = "15005550006") -> int:
        """POST a signed inbound message, as Vonage does when someone texts Haven's number."""
        params = {
            "msisdn": msisdn.removeprefix("+"),
            "to": to,
            "messageId": secrets.token_hex(8).upper(),
            "text": text,
            "type": "text",
            "keyword": (text.split() or [""])[0].upper(),
            "api-key": self.api_key,
            "message-timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }
        return self.post(url, params)

    # The request side, called by the handler.

    def _authorized(self, header: str | None, form: dict[str, str]) -> bool:
        if header and header.startswith("Basic "):
            try:
                key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return hmac.compare_digest(key, self.api_key) and hmac.compare_digest(
                secret, self.api_secret
            )
        if form.get("api_key") != self.api_key:
            return False
        if "sig" in form:
            auth = Auth(
                api_key=self.api_key,
                signature_secret=self.signature_secret,
                signature_method=self.signature_method,
            )
            return bool(auth.check_signature(dict(form)))
        return hmac.compare_digest(form.get("api_secret", ""), self.api_secret)

    def _fails(self) -> int | None:
        # Decided and counted under one lock: two requests at once can never both be the
        # last one let through before the outage.
        with self._lock:
            if self.fail_after is not None and self._let_through >= self.fail_after:
                return self.fail_statuses[0]
            if self.fail_rate and self._random.random() < self.fail_rate:
                return self._random.choice(self.fail_statuses)
            self._let_through += 1
        return None

    def _refusal(self, to: str, status: str) -> dict[str, Any]:
        part = {"to": to, "status": status, "error-text": STATUS_TEXTS.get(status, "Error")}
        return {"message-count": "1", "messages": [part]}

    def _send(self, form: dict[str, str]) -> dict[str, Any]:
        to, sender, text = form.get("to", ""), form.get("from", ""), form.get("text", "")
        if not to or not sender or not text:
            return self._refusal(to, "2")
        status = "1" if self.throttle else self.status_for.get(to, "0")
        if status != "0":
            return self._refusal(to, status)
        ttl = form.get("ttl")
        message = VonageMessage(
            message_id=secrets.token_hex(8).upper(),
            to=to,
            from_=sender,
            text=text,
            type=form.get("type", "text"),
            ttl=int(ttl) if ttl else None,
            callback=form.get("callback"),
            status_report_req=form.get("status-report-req", "").lower() == "true",
            received_at=time.monotonic(),
        )
        with self._lock:
            self._messages.append(message)
        part = {
            "to": to,
            "message-id": message.message_id,
            "status": "0",
            "remaining-balance": "15.53590000",
            "message-price": "0.00750000",
            "network": "310260",
        }
        return {"message-count": "1", "messages": [part]}
