"""Real servers on loopback that speak an outside service's protocol, for tests and benchmarks.

Haven's own clients (the official twilio client, Apprise) talk to these exactly as they talk to
the real services (STYLE.md rule 5): `FakeTwilio` (twilio_server.py), `SmtpServer`
(smtp_server.py), `WebhookServer` (webhook_server.py), `CapReceiver` (cap_receiver.py), a
distributor's receiver of CAP pushes, `PhotoServer` (photo_server.py), the website an
officer's photo link points at, and `Tarpit` (tarpit.py), a TCP server that never answers.
Their pytest fixtures live in `tests.fakes.fixtures`. Each server binds 127.0.0.1 on a free
port and, once stopped, leaves no thread behind. `VirtualClock` (clock.py) stands in for time
itself, so that tests of rates and backoff wait on no real clock.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    # Join every request thread on close, so a stopped server leaves none behind. Handlers
    # answer HTTP/1.0 (one request per connection), so none waits on an idle keep-alive.
    daemon_threads = False
    block_on_close = True
    owner: Any


class LoopbackHTTPServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; use it as a context manager."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Its base URL, e.g. http://127.0.0.1:54321."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Bind and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("already running")
        server = _Server(("127.0.0.1", 0), self.handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join every thread."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""

    def read_body(self) -> bytes:
        """The request body (by Content-Length)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with `status` and `body`."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
