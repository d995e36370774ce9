"""A small HTTP client for Haven's native platform feed: pages, the export, and feedback.

It speaks only `/api/v1/feed/...` with a platform's API key, and turns every way a request
can go wrong into a `HavenError` whose message says what to do about it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

FEED = "/api/v1/feed"
TIMEOUT = (10.0, 120.0)  # (connect, read) seconds; an export of millions of hashes streams


class HavenError(Exception):
    """Something about Haven or its answer stopped the fetch; the message says what."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HavenAuthError(HavenError):
    """Haven refused the platform key: unknown, mistyped or revoked."""


class HavenUnreachable(HavenError):
    """Nothing that answers like Haven is at the base URL."""


class HavenProtocolError(HavenError):
    """Haven answered, but not as its feed does."""


class HavenCursorMismatch(HavenError):
    """The stored cursor was issued by another Haven (another database)."""


class HavenFeedWentBackwards(HavenError):
    """The feed ends before the stored cursor, or answered cursors out of order."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One hash as the feed or the export gives it; `changed_at` in epoch seconds."""

    cursor: int  # 0 for exported hashes, which carry no cursor of their own
    media: str
    algorithm: str
    value: str  # for vpdq, the SHA-256 digest of `features`
    status: str
    changed_at: int
    features: str | None = None  # vpdq only: the signal string of its frames


@dataclasses.dataclass(frozen=True)
class Page:
    """A page of the feed, with the identity and last cursor of the Haven that served it."""

    changes: list[Change]
    next: int
    has_more: bool
    instance: str  # "" when the Haven does not name itself
    last: int | None  # None when the Haven does not say


@dataclasses.dataclass(frozen=True)
class Export:
    """The full export: the cursor to poll after, the Haven's identity, the active hashes."""

    cursor: int
    instance: str
    hashes: Iterator[Change]


def _epoch(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _change(item: Any, *, cursor: bool) -> Change:
    try:
        return Change(
            cursor=int(item["cursor"]) if cursor else 0,
            media=str(item["media"]),
            algorithm=str(item["algorithm"]),
            value=str(item["value"]).lower(),
            status=str(item["status"]),
            changed_at=_epoch(str(item["changed_at"])),
            features=_optional_str(item.get("features")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HavenProtocolError(f"Haven sent a change this client cannot read: {exc!r}") from exc


class HavenFeedClient:
    """Haven's native feed at `base_url` (e.g. `https://haven.example.org`), as one platform."""

    def __init__(
        self, base_url: str, api_key: str, *, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"
        self._session.headers["User-Agent"] = "haven-threatexchange"

    def fetch_page(self, *, after: int, limit: int) -> Page:
        """The changes after cursor `after`, at most `limit` of them."""
        response = self._request("GET", "/hashes", params={"after": str(after), "limit": limit})
        try:
            body = response.json()
            page = Page(
                changes=[_change(c, cursor=True) for c in body["changes"]],
                next=int(body["next"]),
                has_more=bool(body["has_more"]),
                instance=response.headers.get("Haven-Instance", ""),
                last=_optional_int(response.headers.get("Haven-Feed-Last")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HavenProtocolError(
                f"{self.base_url} answered the feed with something that is not a Haven feed "
                f"page ({exc!r}); check base_url"
            ) from exc
        return page

    @contextmanager
    def export(self) -> Iterator[Export]:
        """Every active hash, streamed (gzip), and the cursor to continue polling from."""
        response = self._request("GET", "/hashes/export", stream=True)
        try:
            cursor = _optional_int(response.headers.get("Haven-Feed-Cursor"))
            if cursor is None:
                raise HavenProtocolError(
                    f"{self.base_url} answered the export without a Haven-Feed-Cursor header; "
                    "check base_url"
                )

            def hashes() -> Iterator[Change]:
                try:
                    for line in response.iter_lines():
                        if line:
                            yield _change(json.loads(line), cursor=False)
                except (requests.RequestException, ValueError) as exc:
                    raise HavenUnreachable(
                        f"The export from {self.base_url} broke off: {exc}"
                    ) from exc

            yield Export(cursor, response.headers.get("Haven-Instance", ""), hashes())
        finally:
            response.close()

    def send_feedback(self, *, algorithm: str, value: str, outcome: str, count: int = 1) -> None:
        """Report what the platform did about one hash (matched, removed, not_violating,
        unable_to_action); it replaces the platform's earlier report on that hash."""
        self._request(
            "POST",
            "/feedback",
            json={"algorithm": algorithm, "value": value, "outcome": outcome, "count": count},
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{FEED}{path}"
        try:
            response: requests.Response = self._session.request(
                method, url, timeout=TIMEOUT, **kwargs
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise HavenUnreachable(
                f"{self.base_url!r} is not a usable base URL ({exc}); give Haven's address, "
                "e.g. https://haven.example.org"
            ) from exc
        except requests.exceptions.InvalidSchema as exc:
            raise HavenUnreachable(
                f"{self.base_url!r} is not an http(s) URL; give Haven's address, "
                "e.g. https://haven.example.org"
            ) from exc
        except requests.RequestException as exc:
            raise HavenUnreachable(
                f"Could not reach Haven at {self.base_url}: {exc}. Check base_url and the network."
            ) from exc
        if response.status_code == 401:
            response.close()
            raise HavenAuthError(
                f"Haven at {self.base_url} refused the platform key: it is unknown or has been "
                "revoked. Ask Haven's operator for a new key (haven platform add) and update "
                "the credentials."
            )
        if response.status_code == 404 and not _is_haven_error(response):
            response.close()
            raise HavenUnreachable(
                f"{url} does not exist: {self.base_url} is not a Haven's base URL. Give the "
                "address Haven is served at, without /api/v1, e.g. https://haven.example.org"
            )
        if response.status_code >= 400:
            detail = _error_message(response)
            response.close()
            raise HavenProtocolError(
                f"Haven at {self.base_url} refused {method} {path} "
                f"({response.status_code}): {detail}"
            )
        return response


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"features must be a string, not {type(value).__name__}")
    return value


def _optional_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _is_haven_error(response: requests.Response) -> bool:
    """True when a 404 is Haven's "no such hash", not a missing route."""
    try:
        body = response.json()
        return bool(body["error"]["code"] == "hash_not_found")
    except (ValueError, KeyError, TypeError):
        return False


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason or "no detail"
