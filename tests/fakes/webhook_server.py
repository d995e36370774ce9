"""A loopback HTTP server that collects what is POSTed to it: the far end of Apprise's
`json://127.0.0.1:<port>/<path>` (and `form://`, `xml://`) URLs."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

from tests.fakes import LoopbackHTTPServer, QuietHandler


@dataclasses.dataclass(frozen=True)
class Hook:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Handler(QuietHandler):
    def _collect(self) -> None:
        server: WebhookServer = self.server.owner
        hook = Hook(self.command, self.path, dict(self.headers.items()), self.read_body())
        with server._lock:
            server._hooks.append(hook)
            status = server.status
        self.send_body(status, b"{}", "application/json")

    do_POST = do_PUT = _collect


class WebhookServer(LoopbackHTTPServer):
    """Collects every POST and PUT; answers `status` (200 unless changed)."""

    handler = _Handler

    def __init__(self, *, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self._lock = threading.Lock()
        self._hooks: list[Hook] = []

    @property
    def hooks(self) -> list[Hook]:
        """Every request received, in order (a copy)."""
        with self._lock:
            return list(self._hooks)
