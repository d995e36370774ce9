"""Rendered public output, kept in process and keyed by alert versions, so that a page every
SMS recipient may open is rendered once per version rather than once per view.

A key names everything the output depends on: each alert's `alert_key` (its id, version,
state and send time) and, for pages, the language and path; for the Atom feed, its filter.
An update or cancellation raises the version, expiry changes the state, and an alert leaving
the active list changes the list's key, so a stale entry is never looked up again; it ages out
of the LRU.
"""

from __future__ import annotations

import datetime
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from alerts.models import Alert

T = TypeVar("T")

MAX_ENTRIES = 1024
MAX_BYTES = 64 * 1024 * 1024
"""The LRU's bounds. A CAP document repeats every area in each language, so one alert at the
vertex limit can take megabytes: bytes bound the memory, entries the bookkeeping."""

AlertKey = tuple[int, int, str, datetime.datetime | None]


def alert_key(alert: Alert) -> AlertKey:
    """What identifies the public content of an alert version: id, version, state, send time.

    The send time tells apart two alerts that reuse an id after the database is reset.
    """
    return (alert.id, alert.version, alert.state, alert.sent_at)


class RenderCache:
    """A thread-safe LRU of rendered output, bounded by entries and by approximate bytes.

    `renders` counts the renders it has run (its misses), for tests and metrics.
    """

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.renders = 0
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], T]) -> T:
        """The cached value for `key`, or `render()`'s result, stored under `key`.

        A value's size is its length if it is text or bytes, else its `nbytes` attribute.

        Two threads that miss at once may both render; the output is the same either way.
        """
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]  # type: ignore[return-value]
        value = render()
        nbytes = _length(value)
        with self._lock:
            self.renders += 1
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, nbytes)
            self._bytes += nbytes
            # The newest entry stays even when it alone exceeds the bytes bound.
            while len(self._entries) > 1 and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted
        return value

    def __len__(self) -> int:
        return len(self._entries)


def _length(value: object) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    nbytes: int = getattr(value, "nbytes", 1024)
    return nbytes
