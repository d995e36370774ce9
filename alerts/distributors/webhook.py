"""The wire side of a push: which URLs Haven may push to, the signature, and one POST.

A receiver's URL must be https://, and its host must pass the private-address policy that
channel URLs pass (`alerts.subscriptions.channels.check_host`: never Haven itself, never a
private, loopback or reserved address), at registration and again before every push, as DNS
may change; the push then connects to an address that check passed, never to one DNS gives
later (`alerts.photo_fetch.connect_pinned`). Only tests, with
HAVEN_ALLOW_PRIVATE_CHANNEL_HOSTS, may use http:// and then only on loopback: that setting
cannot open plain http to anywhere else.

Each push is one POST of the CAP document, signed like Stripe's and GitHub's webhooks:
`Haven-Timestamp` (Unix seconds) and `Haven-Signature: sha256=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` under the receiver's secret. Redirects are never followed (a public host
must not bounce Haven to a private one), certificates are verified, and a push has a hard
deadline: a watchdog shuts its socket then, however slowly the receiver answers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import ipaddress
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Literal, Protocol
from urllib.parse import urlsplit

from alerts.photo_fetch import Watchdog, connect_pinned
from alerts.providers import retry_after_seconds
from alerts.subscriptions.channels import Address, UrlPolicy, check_host
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


@dataclasses.dataclass(frozen=True)
class PushTarget:
    """A URL Haven may push to, and the addresses of its host that passed the check."""

    url: str
    addresses: tuple[Address, ...]


def check_push_url(url: str, policy: UrlPolicy) -> str:
    """The URL Haven may push to, as given, or InvalidInput saying what is wrong with it
    (`push_target`)."""
    return push_target(url, policy).url


def push_target(url: str, policy: UrlPolicy) -> PushTarget:
    """The URL Haven may push to and its host's checked addresses (IPv4 first), the only
    ones a push may connect to; or InvalidInput saying what is wrong with the URL.

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
        addresses = check_host(host, port, policy)
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
    return PushTarget(text, tuple(sorted(addresses, key=lambda address: address.version)))


@dataclasses.dataclass(frozen=True)
class PushResult:
    """What became of one POST.

    sent: the receiver answered 2xx; retry: try again after a backoff (5xx, 408, 429,
    timeouts, connection errors), not before `retry_after` seconds if it said so;
    failed: it will not take this push (any other answer). `error` says why in words.
    `attempted` is False for a push that never began (it waited for a free sender until
    its deadline): that retry costs the push none of its attempts.
    """

    outcome: PushOutcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    attempted: bool = True


class Poster(Protocol):
    """POSTs one signed CAP document to a receiver."""

    def post(
        self, *, url: str, addresses: Sequence[Address], body: bytes, headers: dict[str, str]
    ) -> PushResult:
        """Send it to one of `addresses` (those of the URL's host that passed the check) and
        say what became of it."""
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


def post_once(
    *,
    url: str,
    addresses: Sequence[Address],
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    watchdog: Watchdog,
) -> PushResult:
    """One POST with http.client to the first of `addresses` that answers, by `deadline`
    (time.monotonic(); `watchdog` shuts the socket then): certificates are verified for the
    URL's host and redirects are not followed (http.client follows none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection | None = None
    try:
        connection = connect_pinned(
            scheme=scheme,
            host=parts.hostname or "",
            port=parts.port or (443 if scheme == "https" else 80),
            addresses=addresses,
            deadline=deadline,
            watchdog=watchdog,
        )
        connection.request("POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT})
        response = connection.getresponse()
        answer = response.read(ANSWER_BYTES)
        return classify(response.status, response.reason, response.getheader("Retry-After"), answer)
    except (OSError, http.client.HTTPException) as error:
        if watchdog.fired or isinstance(error, TimeoutError):
            return PushResult("retry", error="no answer within the deadline")
        # Refused, reset, unreachable, a TLS failure or a malformed answer: the receiver may
        # be back (or fixed) soon.
        return PushResult("retry", error=_describe(error))
    finally:
        if connection is not None:
            connection.close()


class HttpPoster:
    """POSTs within a hard deadline of `deadline` seconds.

    Each POST runs in a small thread pool of its own. At the deadline a watchdog shuts its
    socket, so a receiver that never answers, or answers a byte at a time, costs one
    attempt and frees both the sender and the pool's thread (as channels do:
    docs/dispatch.md). A POST still waiting for a pool thread then is never sent, and says
    so (`PushResult.attempted`).
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
    def post(
        self, *, url: str, addresses: Sequence[Address], body: bytes, headers: dict[str, str]
    ) -> PushResult:
        """POST `body` to `url` at one of `addresses`; retry if no answer comes within the
        deadline."""
        deadline = time.monotonic() + self.deadline
        watchdog = Watchdog()
        future = self._executor().submit(
            post_once,
            url=url,
            addresses=addresses,
            body=body,
            headers=headers,
            deadline=deadline,
            watchdog=watchdog,
        )
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            watchdog.fire()  # the thread lets go of the receiver at once
            if future.cancel():
                return PushResult(
                    "retry",
                    error=f"not sent within {self.deadline:g} s: every sender was busy",
                    attempted=False,
                )
            return PushResult("retry", error=f"no answer within {self.deadline:g} s")
