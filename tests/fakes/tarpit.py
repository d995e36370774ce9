"""A TCP server on loopback that accepts connections, reads what it is sent and never answers:
the far end of a channel whose host hangs. It closes every connection when stopped, and stops
itself after `lifetime` seconds, so nothing waits on it for ever.

    with Tarpit() as tarpit:
        url = f"json://127.0.0.1:{tarpit.port}/hook"  # a notify() to it gets no answer
"""

from __future__ import annotations

import select
import socket
import threading
import time
from types import TracebackType
from typing import Self


class Tarpit:
    """Accepts and holds connections without a byte in reply; counts them."""

    def __init__(self, *, lifetime: float = 60.0) -> None:
        self.lifetime = lifetime
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._listener is None:
            raise RuntimeError("the tarpit is not running")
        return int(self._listener.getsockname()[1])

    @property
    def open(self) -> int:
        """Connections the other end has not closed yet."""
        with self._lock:
            return len(self._open)

    def start(self) -> Self:
        """Listen on 127.0.0.1 and hold connections in a background thread."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._run, name="Tarpit")
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._listener is not None
        ends = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < ends:
            with self._lock:
                watched = [self._listener, *self._open]
            readable, _, _ = select.select(watched, [], [], 0.02)
            for sock in readable:
                if sock is self._listener:
                    connection, _ = sock.accept()
                    with self._lock:
                        self._open.append(connection)
                        self.accepted += 1
                elif not _drain(sock):  # the other end closed it
                    sock.close()
                    with self._lock:
                        self._open.remove(sock)
        with self._lock:
            for connection in self._open:
                connection.close()
            self._open = []
        self._listener.close()

    def stop(self) -> None:
        """Close every connection and the listener, and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _drain(sock: socket.socket) -> bool:
    """Read what is waiting (and drop it); False once the other end has closed."""
    try:
        return bool(sock.recv(65536))
    except OSError:
        return False
