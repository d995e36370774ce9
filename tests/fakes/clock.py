"""A virtual clock for `alerts.dispatch.bucket.LocalBucket`: sleeping costs no real time.

Each thread keeps its own time: the clock's reading when it last looked, plus what it slept
since. The clock's time is the furthest any thread has got, so a bucket that reserves tokens
ahead and tells each caller how long to wait hands out exactly the schedule it would on the
real clock, and `thread_time()` is when the calling thread would have woken.

    clock = VirtualClock()
    bucket = LocalBucket(40.0, clock=clock)
    bucket.take()  # returns at once; clock.thread_time() is when it was due
"""

from __future__ import annotations

import threading
import time


class VirtualClock:
    """Monotonic time that moves only when a thread sleeps (and never backwards)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._local = threading.local()

    def monotonic(self) -> float:
        """The furthest time any thread has reached; the calling thread is now there too."""
        with self._lock:
            self._local.at = self._now
            return self._now

    def sleep(self, seconds: float) -> None:
        """Move the calling thread `seconds` on from its last reading, at once."""
        with self._lock:
            at = getattr(self._local, "at", self._now) + max(0.0, seconds)
            self._local.at = at
            self._now = max(self._now, at)

    def thread_time(self) -> float:
        """Where the calling thread is: its last reading plus what it slept since."""
        with self._lock:
            return float(getattr(self._local, "at", self._now))


class ScaledClock:
    """Real time, sped up `factor` times: every thread sees the same time, and sleeping
    `seconds` takes `seconds / factor` of real time.

    For code that reckons with several threads' time at once (leases one sender extends while
    another claims): a VirtualClock lets one busy thread run ahead of one waiting on a real
    reply, which real time never does.
    """

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._start = time.monotonic()

    def monotonic(self) -> float:
        """Seconds since the clock was made, sped up."""
        return (time.monotonic() - self._start) * self.factor

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        time.sleep(max(0.0, seconds) / self.factor)
