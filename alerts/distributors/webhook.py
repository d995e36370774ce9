"""The wire side of a push: which URLs Haven may push to, the signature, and one POST.

A receiver's URL must be https://, and its host must pass the private-address policy that
channel URLs pass (`alerts.subscriptions.channels.check_host`: never Haven itself, never a
private, loopback or reserved address), at registration and again before every push, as DNS
may change. Only tests, with HAVEN_ALLOW_PRIVATE_CHANNEL_HOSTS, may use http:// and then only
on loopback: that setting cannot open plain http to anywhere else.

Each push is one POST of the CAP document, signed like Stripe's and GitHub's webhooks:
`Haven-Timestamp` (Unix seconds) and `Haven-Signature: sha256=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` under the receiver's secret. Redirects are never followed (a public host
must not bounce Haven to a private one), certificates are verified, and a push has a hard
deadline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import ipaddress
import logging
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Literal, Protocol
from urllib.parse import urlsplit

from alerts.providers import retry_after_seconds
from alerts.subscriptions.channels import UrlPolicy, check_host
from haven.errors import InvalidInput
from haven.metrics import timed_send

log = logging.getLogger(__name__)

# What the public CAP route (`GET /alerts/<id>.cap`) answers with, byte for byte.
CONTENT_TYPE = "application/cap+xml; charset=utf-8"
TIMESTAMP_HEADER = "Haven-Timestamp"
SIGNATURE_HEADER = "Haven-Signature"
SIGNATURE_SCHEME = "sha256"
USER_AGENT = "Haven-CAP-Push/1"
ANSWER_BYTES = 300  # of a receiver's answer, kept to say why it refused

PushOutcome = Literal["sent", "retry", "failed"]


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The HMAC-SHA256 of `<timestamp>.<body>` under `secret`, as lowercase hex."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(*, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one push of `body`, signed at `timestamp` (Unix seconds)."""
    signed = signature(secret=secret, timestamp=timestamp, body=body)
    return {
        "Content-Type": CONTENT_TYPE,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_SCHEME}={signed}",
    }


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        name = host.rstrip(".").lower()
        return name == "localhost" or name.endswith(".localhost")


def check_push_url(url: str, policy: UrlPolicy) -> str:
    """The URL Haven may push to, as given, or InvalidInput saying what is wrong with it.

    Codes: distributor_url (not a URL with a host, or carrying a password), distributor_https
    (http:// outside tests on loopback), distributor_host (no such host), distributor_private
    (Haven itself, or a private, loopback or reserved address).
    """
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{text!r} is not an https:// URL with a host.", code="distributor_url")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise InvalidInput(
            f"The port of {text!r} is not a number from 1 to 65535.", code="distributor_url"
        ) from None
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "A distributor URL cannot carry a user name or password: Haven signs every push.",
            code="distributor_url",
        )
    host = parts.hostname
    if scheme == "http" and not (policy.allow_private and _is_loopback(host)):
        raise InvalidInput(
            f"Distributor URLs must use https:// ({text!r} does not): alerts are pushed only "
            "over TLS.",
            code="distributor_https",
        )
    try:
        check_host(host, port, policy)
    except InvalidInput as refused:
        if refused.code == "channel_host":
            raise InvalidInput(
                f"The host {host!r} cannot be found.", code="distributor_host"
            ) from None
        raise InvalidInput(
            f"The host {host!r} is Haven itself or a private, loopback or reserved address: "
            "a distributor must be reachable on the public internet.",
            code="distributor_private",
        ) from None
    return text


@dataclasses.dataclass(frozen=True)
class PushResult:
    """What became of one POST.

    sent: the receiver answered 2xx; retry: try again after a backoff (5xx, 408, 429,
    timeouts, connection errors), not before `retry_after` seconds if it said so;
    failed: it will not take this push (any other answer). `error` says why in words.
    """

    outcome: PushOutcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


class Poster(Protocol):
    """POSTs one signed CAP document to a receiver."""

    def post(self, *, url: str, body: bytes, headers: dict[str, str]) -> PushResult:
        """Send it and say what became of it."""
        ...


def _said(answer: bytes) -> str:
    """The start of a receiver's answer, printable and on one line."""
    text = answer.decode("utf-8", "replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:ANSWER_BYTES]


def classify(status: int, reason: str, retry_after: str | None, answer: bytes) -> PushResult:
    """A receiver's HTTP answer as a PushResult."""
    if 200 <= status < 300:
        return PushResult("sent", status)
    said = _said(answer)
    error = f"HTTP {status} {reason}".rstrip() + (f": {said}" if said else "")
    if status in (408, 429) or status >= 500:
        wait = retry_after_seconds(retry_after) if status in (429, 503) else None
        return PushResult("retry", status, error, retry_after=wait)
    if 300 <= status < 400:
        error += " (redirects are not followed: register the URL it points to)"
    return PushResult("failed", status, error)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def post_once(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> PushResult:
    """One POST with http.client: each socket operation times out after `timeout` seconds,
    certificates are verified and redirects are not followed (http.client follows none)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT})
        response = connection.getresponse()
        answer = response.read(ANSWER_BYTES)
        return classify(response.status, response.reason, response.getheader("Retry-After"), answer)
    except TimeoutError:
        return PushResult("retry", error=f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        # Refused, reset, unreachable, a TLS failure or a malformed answer: the receiver may
        # be back (or fixed) soon.
        return PushResult("retry", error=_describe(error))
    finally:
        connection.close()


class HttpPoster:
    """POSTs within a hard deadline of `deadline` seconds.

    Each POST runs in a small thread pool of its own, its socket timeouts capped at half the
    deadline, so a receiver that accepts a connection and never answers costs one attempt
    and frees the sender (as channels do: docs/dispatch.md).
    """

    def __init__(self, *, deadline: float = 10.0, workers: int = 8) -> None:
        self.deadline = deadline
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="haven-push")
            return self._pool

    @timed_send("distributor")
    def post(self, *, url: str, body: bytes, headers: dict[str, str]) -> PushResult:
        """POST `body` to `url`; retry if no answer comes within the deadline."""
        future = self._executor().submit(
            post_once, url=url, body=body, headers=headers, timeout=self.deadline / 2
        )
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            future.cancel()
            return PushResult("retry", error=f"no answer within {self.deadline:g} s")
