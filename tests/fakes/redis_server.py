"""A real redis-server of a test's own on a free loopback port, which the test may stop.

Not a fake: Redis itself, without persistence, so a test can see what Haven does when the
Redis it was configured with goes away.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from types import TracebackType

import redis

from tests.factories import free_port


class RedisServer:
    """`redis-server` on 127.0.0.1:`port`, no snapshots, no append-only file."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = subprocess.Popen(
            [
                executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_it_answers()

    def _wait_until_it_answers(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 5  # it answers within milliseconds; this is a bound
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server and wait until it has exited (its port then refuses connections)."""
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
