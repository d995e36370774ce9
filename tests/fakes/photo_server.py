"""A loopback HTTP server for the photos an officer links: files at paths the test chooses,
and two servers that misbehave, as a police website on a bad day may.

    with PhotoServer() as photos:
        photos.add("/jane.jpg", jpeg_bytes, "image/jpeg")
        photos.url + "/jane.jpg"       # served with its Content-Length
        photos.url + "/endless.jpg"    # JPEG bytes without end and without a length;
                                       # `photos.streamed` counts what it managed to send
        photos.url + "/dribble.jpg"    # its headers at once, then a byte every 0.1 s
        photos.url + "/slow-headers.jpg"  # its status line, then a header byte every 0.1 s
                                       # (both at most 600 bytes; `photos.dribbled` counts)

A POST gets the same answers as a GET (a CAP receiver can have a bad day too). The
misbehaving paths stop when the client hangs up (or the server is stopped), so that no
thread outlives the test.
"""

from __future__ import annotations

import dataclasses
import threading

from tests.fakes import LoopbackHTTPServer, QuietHandler

ENDLESS_LIMIT = 200_000_000  # bytes the endless path sends at most
JPEG_START = b"\xff\xd8\xff\xe0"


@dataclasses.dataclass(frozen=True)
class Served:
    """What the server answers at one path."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        server: PhotoServer = self.server.owner
        server._record(self.path)
        if self.path == "/endless.jpg":
            self._endless(server)
        elif self.path == "/dribble.jpg":
            self._dribble(server)
        elif self.path == "/slow-headers.jpg":
            self._slow_headers(server)
        elif (served := server._files.get(self.path)) is not None:
            self.send_body(served.status, served.body, served.content_type, served.headers)
        else:
            self.send_body(404, b"<h1>Not found</h1>", "text/html")

    do_POST = do_GET

    def _endless(self, server: PhotoServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()  # no Content-Length: the body ends when the connection does
        chunk = JPEG_START + bytes(64 * 1024 - len(JPEG_START))
        try:
            while server.streamed < ENDLESS_LIMIT and not server._stopping.is_set():
                self.wfile.write(chunk)
                with server._lock:
                    server.streamed += len(chunk)
        except OSError:
            pass  # the client hung up

    def _slow_headers(self, server: PhotoServer) -> None:
        try:
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            for _ in range(600):  # one header line that never ends, for at most a minute
                if server._stopping.wait(0.1):
                    break
                self.wfile.write(b"a")
                self.wfile.flush()
                with server._lock:
                    server.dribbled += 1
        except OSError:
            pass  # the client hung up

    def _dribble(self, server: PhotoServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for byte in (JPEG_START + bytes(100_000))[:600]:  # at most a minute
                if server._stopping.wait(0.1):
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                with server._lock:
                    server.dribbled += 1
        except OSError:
            pass  # the client hung up


class PhotoServer(LoopbackHTTPServer):
    """Serves what `add` gives it; 404 for anything else; see the module docstring."""

    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._files: dict[str, Served] = {}
        self._requests: list[str] = []
        self.streamed = 0
        self.dribbled = 0  # bytes the slow paths sent before the client hung up

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str = "image/jpeg",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve `body` at `path`; returns its URL."""
        self._files[path] = Served(status, body, content_type, headers or {})
        return self.url + path

    def redirect(self, path: str, to: str) -> str:
        """Answer `path` with a 302 to `to`; returns its URL."""
        return self.add(path, b"", "text/plain", status=302, headers={"Location": to})

    @property
    def requests(self) -> list[str]:
        """The paths asked for, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def _record(self, path: str) -> None:
        with self._lock:
            self._requests.append(path)

    def stop(self) -> None:
        """Stop the slow answers, then the server."""
        self._stopping.set()
        super().stop()
