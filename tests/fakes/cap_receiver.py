"""A secondary distributor's receiver on loopback: it keeps every CAP push Haven POSTs to it,
with its headers, and answers 200, or what it was told to answer to the next few pushes
(`fail`: 500 n times, 429 with a Retry-After, 404 ...)."""

from __future__ import annotations

import dataclasses
import threading

from tests.fakes import LoopbackHTTPServer, QuietHandler


@dataclasses.dataclass(frozen=True)
class Push:
    """One request the receiver got, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int

    def header(self, name: str) -> str | None:
        """A header's value (any case of its name), or None."""
        return self.headers.get(name.lower())


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        receiver: CapReceiver = self.server.owner
        body = self.read_body()
        with receiver._lock:
            status, headers = receiver._answers.pop(0) if receiver._answers else (200, {})
            receiver._pushes.append(
                Push(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    status,
                )
            )
        self.send_body(status, b"ok" if status < 300 else b"try later", "text/plain", headers)


class CapReceiver(LoopbackHTTPServer):
    """Keeps every POST; answers 200 unless told otherwise by `fail`."""

    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pushes: list[Push] = []
        self._answers: list[tuple[int, dict[str, str]]] = []

    def fail(self, times: int, status: int = 500, headers: dict[str, str] | None = None) -> None:
        """Answer `status` (with `headers`) to the next `times` pushes, then 200 again."""
        with self._lock:
            self._answers += [(status, dict(headers or {}))] * times

    @property
    def pushes(self) -> list[Push]:
        """Every request received, in order, whatever it was answered (a copy)."""
        with self._lock:
            return list(self._pushes)

    @property
    def accepted(self) -> list[Push]:
        """The requests answered 2xx, in order."""
        return [push for push in self.pushes if 200 <= push.answered < 300]

    def push_url(self, path: str = "/cap") -> str:
        """Where Haven should push to, e.g. http://127.0.0.1:54321/cap."""
        return f"{self.url}{path}"
