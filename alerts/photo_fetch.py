"""Fetching a child's photo from the URL an officer gave, safely: the one place Haven reads
from an address an outsider chose and keeps what it got (alerts/photos.py stores it).

The fetch obeys the policy channel URLs obey (`alerts.subscriptions.channels.check_host`):
never Haven itself, and in production never a private, loopback or link-local address,
checked again at every redirect. Haven connects to the very address it checked, so DNS cannot
change its answer in between. The download streams and stops at `max_bytes`, and all the
photos of one approval share one deadline: a watchdog shuts their connections then, so a
server that sends a byte at a time holds nothing. Only JPEG, PNG, WebP and GIF are kept,
recognised by their first bytes, whatever the server says; never SVG, which can carry script.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from alerts.subscriptions.channels import Address, UrlPolicy, check_host
from haven.errors import InvalidInput
from haven.settings import Settings

log = logging.getLogger(__name__)

# The image types Haven keeps, and the extension each is served with.
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
ACCEPT = "image/jpeg, image/png, image/webp, image/gif"
USER_AGENT = "Haven (AMBER alert photo fetch)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes begin with (JPEG, PNG, WebP or GIF), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in head


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class PhotoProblem(Exception):
    """Why a photo could not be used: a short code and a sentence for the officer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class FetchedPhoto:
    """A photo as downloaded: its bytes and the image type they are."""

    source_url: str
    data: bytes = dataclasses.field(repr=False)
    media_type: str


class Watchdog:
    """Shuts down every connection it watches once `fire` is called: a blocked read then
    returns at once, however slowly the server sends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False

    def watch(self, sock: socket.socket) -> socket.socket:
        """Watch `sock`; one opened after the deadline is shut at once (TimeoutError)."""
        with self._lock:
            if not self.fired:
                self._sockets.append(sock)
                return sock
        _shut(sock)
        raise TimeoutError("the deadline has passed")

    def fire(self) -> None:
        """The deadline: shut every connection watched, and any opened from now on."""
        with self._lock:
            self.fired = True
            watched, self._sockets = self._sockets, []
        for sock in watched:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class PinnedHTTP(http.client.HTTPConnection):
    """HTTP to `address`, the checked address of `host` (which the Host header names)."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, watchdog: Watchdog
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        self.sock = self.watchdog.watch(
            socket.create_connection((self.address, self.port), self.timeout)
        )


class PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address`, the checked address of `host`, whose certificate must name `host`."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, watchdog: Watchdog
    ) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        raw = self.watchdog.watch(socket.create_connection((self.address, self.port), self.timeout))
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _checked_addresses(host: str, port: int, policy: UrlPolicy) -> list[Address]:
    """The host's addresses if the policy allows them all, IPv4 first; PhotoProblem if not."""
    try:
        addresses = check_host(host, port, policy)
    except InvalidInput as refused:
        if refused.code == "channel_host":
            raise PhotoProblem(
                "photo_host", f"The photo's host {host!r} cannot be found (DNS)."
            ) from None
        raise PhotoProblem(
            "photo_private",
            f"Haven fetches photos from public addresses only; {host!r} is Haven itself or a "
            "private, loopback or reserved address.",
        ) from None
    return sorted(addresses, key=lambda address: address.version)


def _connect(
    url: str, policy: UrlPolicy, deadline: float, watchdog: Watchdog
) -> http.client.HTTPConnection:
    """A connection to the server `url` names, at an address the policy allows."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PhotoProblem("photo_url", "A photo URL must be an http:// or https:// URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise PhotoProblem("photo_url", "The photo URL's port is not a number.") from None
    try:
        return connect_pinned(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
            addresses=_checked_addresses(parts.hostname, port, policy),
            deadline=deadline,
            watchdog=watchdog,
        )
    except ssl.SSLError as error:
        reason = getattr(error, "verify_message", None) or error.reason or "TLS failed"
        raise PhotoProblem(
            "photo_tls", f"The photo's server failed the HTTPS check: {reason}."
        ) from None


def connect_pinned(
    *,
    scheme: str,
    host: str,
    port: int,
    addresses: Sequence[Address],
    deadline: float,
    watchdog: Watchdog,
) -> http.client.HTTPConnection:
    """A connection to `host` at the first of `addresses` (its checked addresses, in order)
    that answers by `deadline` (time.monotonic()), never at an address looked up again:
    Host and TLS name `host`. ssl.SSLError at once if TLS fails; the last OSError if no
    address answers. Photo fetches and distributor pushes connect through it."""
    kind = PinnedHTTPS if scheme.lower() == "https" else PinnedHTTP
    failure: OSError | None = None
    for address in addresses:
        connection = kind(
            host, port, address=str(address), timeout=_remaining(deadline), watchdog=watchdog
        )
        try:
            connection.connect()
        except ssl.SSLError:
            connection.close()
            raise
        except OSError as error:
            connection.close()
            failure = error
            if watchdog.fired:
                break
            continue
        return connection
    raise failure or OSError("no address")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline has passed")
    return left


def _read_capped(
    response: http.client.HTTPResponse, sock: Any, max_bytes: int, deadline: float
) -> bytes:
    """The body, read as it arrives and never beyond `max_bytes` (PhotoProblem then)."""
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise PhotoProblem(
            "photo_too_large",
            f"The photo is {_megabytes(int(declared))}; Haven accepts at most "
            f"{_megabytes(max_bytes)}.",
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        sock.settimeout(_remaining(deadline))
        chunk = response.read1(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise PhotoProblem(
                "photo_too_large",
                f"The photo is larger than {_megabytes(max_bytes)}, the most Haven accepts; "
                "Haven stopped reading there.",
            )
        chunks.append(chunk)
    if response.length:  # the server closed before sending what it announced
        raise PhotoProblem(
            "photo_incomplete", "The photo's server closed the connection before the end."
        )
    return b"".join(chunks)


def _get(
    url: str, policy: UrlPolicy, max_bytes: int, deadline: float, watchdog: Watchdog
) -> str | bytes:
    """One GET: the body, or the URL a redirect points to (str)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connect(url, policy, deadline, watchdog)
    # Kept apart: the connection forgets its socket when the response ends with a close.
    sock = connection.sock
    response = None
    try:
        connection.request(
            "GET",
            target,
            headers={"Accept": ACCEPT, "Accept-Encoding": "identity", "User-Agent": USER_AGENT},
        )
        response = connection.getresponse()
        location = response.getheader("Location")
        if response.status in _REDIRECTS and location:
            return urljoin(url, location.strip())
        if response.status != 200:
            reason = f" {response.reason}" if response.reason else ""
            raise PhotoProblem(
                "photo_http", f"The photo's server answered HTTP {response.status}{reason}."
            )
        return _read_capped(response, sock, max_bytes, deadline)
    finally:
        # The response holds the connection once the server said it closes it: close both.
        if response is not None:
            response.close()
        connection.close()


def fetch_photo(
    url: str, *, policy: UrlPolicy, max_bytes: int, deadline: float, watchdog: Watchdog
) -> FetchedPhoto:
    """Download one photo by `deadline` (time.monotonic()), following up to MAX_REDIRECTS
    redirects, each checked against `policy`; PhotoProblem says why not."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        got = _get(current, policy, max_bytes, deadline, watchdog)
        if isinstance(got, str):
            current = got
            continue
        media_type = sniff_image(got)
        if media_type is None:
            if _looks_like_svg(got):
                raise PhotoProblem(
                    "photo_not_image",
                    "The photo is an SVG drawing; Haven accepts JPEG, PNG, WebP and GIF "
                    "images only (an SVG can carry scripts).",
                )
            raise PhotoProblem(
                "photo_not_image",
                "The file at the photo URL is not a JPEG, PNG, WebP or GIF image.",
            )
        return FetchedPhoto(url, got, media_type)
    raise PhotoProblem(
        "photo_redirects", f"The photo URL redirected more than {MAX_REDIRECTS} times."
    )


@dataclasses.dataclass(frozen=True)
class PhotoFetcher:
    """Fetches an alert's photos: each at most `max_bytes`, all together within `seconds`,
    from addresses `policy` allows."""

    policy: UrlPolicy
    max_bytes: int = 5_000_000
    seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PhotoFetcher:
        """The fetcher the settings describe."""
        return cls(
            UrlPolicy.from_settings(settings),
            max_bytes=settings.photo_max_bytes,
            seconds=settings.photo_fetch_seconds,
        )

    def fetch_all(self, urls: Sequence[str]) -> dict[str, FetchedPhoto | PhotoProblem]:
        """Each URL's photo or the reason it has none, all fetched at once within `seconds`.

        A fetch still running at the deadline is abandoned: the watchdog shuts its
        connection, so its thread ends at once (a DNS look-up ends when the resolver gives up).
        """
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}
        deadline = time.monotonic() + self.seconds
        watchdog = Watchdog()
        pool = concurrent.futures.ThreadPoolExecutor(len(wanted), thread_name_prefix="haven-photo")
        futures = {
            url: pool.submit(self._fetch_one, url, deadline=deadline, watchdog=watchdog)
            for url in wanted
        }
        concurrent.futures.wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        watchdog.fire()
        pool.shutdown(wait=False, cancel_futures=True)
        return {
            url: future.result() if future.done() else self._late()
            for url, future in futures.items()
        }

    def _late(self) -> PhotoProblem:
        return PhotoProblem(
            "photo_timeout", f"The photo did not arrive within {self.seconds:g} seconds."
        )

    def _fetch_one(
        self, url: str, *, deadline: float, watchdog: Watchdog
    ) -> FetchedPhoto | PhotoProblem:
        try:
            return fetch_photo(
                url,
                policy=self.policy,
                max_bytes=self.max_bytes,
                deadline=deadline,
                watchdog=watchdog,
            )
        except PhotoProblem as problem:
            if problem.code == "photo_incomplete" and watchdog.fired:
                return self._late()  # cut short by the deadline, not by the server
            # A fresh one: the raised one's traceback would keep the connection's frames.
            return PhotoProblem(problem.code, problem.message)
        except TimeoutError:
            return self._late()
        except http.client.IncompleteRead:
            if watchdog.fired:
                return self._late()
            return PhotoProblem(
                "photo_incomplete", "The photo's server closed the connection before the end."
            )
        except (http.client.HTTPException, ValueError) as error:
            if watchdog.fired:
                return self._late()
            return PhotoProblem(
                "photo_http", f"The photo's server did not answer in HTTP ({type(error).__name__})."
            )
        except OSError as error:
            if watchdog.fired:
                return self._late()
            reason = error.strerror or type(error).__name__
            return PhotoProblem(
                "photo_unreachable", f"Haven could not reach the photo's server: {reason}."
            )
        except Exception:  # a photo must never stop the alert
            log.exception("fetching a photo failed unexpectedly")
            return PhotoProblem("photo_error", "Haven failed to fetch the photo.")
