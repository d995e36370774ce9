"""Many SMS in flight at once: one asyncio event loop per process, shared by every sender.

A sender thread (in-process runner or Celery task) keeps its database work: it claims a batch,
decides what each delivery needs, takes tokens from the rate limit, and hands groups of sends
to the loop here, which runs them concurrently on the provider's keep-alive connections
(`SmsProvider.send_sms_async`). Each result comes back through the sender's own queue, so the
sender saves outcomes as they arrive and extends its lease meanwhile, as it always has.

One loop per process, not per sender: the provider keeps one connection pool per loop, so
every sender of a process shares its connections. The loop starts on first use, and again in
a forked child (a loop thread does not survive `fork`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from alerts.providers import SendResult

log = logging.getLogger(__name__)

K = TypeVar("K")
Send = Callable[[], Awaitable[SendResult]]


class Results(Generic[K]):
    """Where a sender's results come back: (key, SendResult or the exception raised)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[K, SendResult | BaseException]] = queue.SimpleQueue()

    def put(self, key: K, result: SendResult | BaseException) -> None:
        """Called in the loop's thread."""
        self._queue.put((key, result))

    def get(self, timeout: float | None) -> tuple[K, SendResult | BaseException] | None:
        """The next result, waiting up to `timeout` seconds (None: none came)."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def get_nowait(self) -> tuple[K, SendResult | BaseException] | None:
        """The next result if one is there."""
        return self.get(timeout=0) if not self._queue.empty() else None


class SendLoop:
    """The process's event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                threading.Thread(target=run, name="haven-sms-loop", daemon=True).start()
                started.wait()
                self._loop, self._pid, self._tasks = loop, os.getpid(), set()
            return self._loop

    def start(self) -> None:
        """Start the loop now rather than on the first send."""
        self._running()

    def submit(self, sends: Sequence[tuple[K, Send]], results: Results[K]) -> None:
        """Start every send at once on the loop; each result goes to `results` with its key."""
        self._running().call_soon_threadsafe(self._start, list(sends), results)

    def _start(self, sends: list[tuple[K, Send]], results: Results[K]) -> None:
        for key, send in sends:
            task = asyncio.get_running_loop().create_task(self._one(key, send, results))
            self._tasks.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _one(key: K, send: Send, results: Results[K]) -> None:
        try:
            result: SendResult | BaseException = await send()
        except Exception as error:  # the sender turns it into a retry of this delivery alone
            result = error
        results.put(key, result)


SEND_LOOP = SendLoop()
