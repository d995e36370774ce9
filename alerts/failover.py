"""Two SMS providers sharing the traffic by priority, with GOV.UK Notify's failover rules.

Notify (alphagov/notifications-api, `dao_reduce_sms_provider_priority` and
`dao_adjust_provider_priority_back_to_resting_points`) picks a provider for each message at
random, weighted by priority; takes 10 points from a provider that errors or slows down and
gives them to the other, no more often than once a while; and moves both back towards their
resting points by 10 once things have been quiet. Haven does the same, within one process,
on a time scale fit for an AMBER alert (seconds, not minutes):

- a provider that errors on most sends (at least FAILING_SHARE of at least MIN_SAMPLES sends
  within `window` seconds: a "retry" answer, or its client raising) drops to 0 at once,
  whatever `hold` says, its points going to the other;
- otherwise a provider with more than `errors` errors within `window` seconds, or whose
  acceptance took more than `slow` seconds at the 90th percentile there (of at least
  MIN_SAMPLES sends) AND more than SLOWER times the other's 90th percentile, loses `step`
  points to the other, at most once a `hold` seconds. Slowness is judged against the other
  provider: when both are slow, or the other has no acceptance times in the window to compare
  with, nothing moves. The evidence is then spent, so the next change needs fresh trouble;
- points only ever go to a provider that is not itself over its `errors` threshold in the
  window: when both fail, nothing moves (Notify's rules would hand traffic to the other
  failing one);
- once no change was made for `recover` seconds and no provider erred within `window`, every
  provider moves `step` points back towards its resting share. That is how a provider at 0 is
  probed: it gets `step` points back, and if it still fails, MIN_SAMPLES sends are enough to
  drop it to 0 again; if not, it climbs back a step per `recover` seconds, as in Notify;
- a message a provider answered "retry" avoids that provider on its next attempt when another
  has priority: dispatch records who put it off in Delivery.provider and passes it back as
  `avoid`, so this holds whichever worker process makes the next attempt (this process also
  remembers it, for callers that do not pass `avoid`).

State is in process memory: each Celery worker (and the in-process runner) routes by what it
saw itself. A provider that fails, fails for every worker alike, so each reaches the same
decision within its window, with no round trip to Redis on the send path and nothing to go
wrong when Redis does.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from alerts.providers import SendResult, SmsProvider, send_sms_async
from haven.metrics import count_provider_send, count_provider_switch, set_provider_priority

if TYPE_CHECKING:
    from haven.settings import Settings

log = logging.getLogger(__name__)

MIN_SAMPLES = 10  # sends in the window before slowness, or the share of errors, counts
FAILING_SHARE = 0.5  # a provider erring on this share of its sends drops to 0 at once
SLOWER = 2.0  # slowness counts only this many times slower than the other provider
PERCENTILE = 0.9
# Numbers remembered as "last put off by provider X" (oldest forgotten first).
REMEMBERED = 100_000


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When a provider loses priority, and how priorities move (see the module docstring)."""

    errors: int = 10
    window: float = 30.0
    slow: float = 5.0
    step: int = 10
    hold: float = 5.0
    recover: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The thresholds HAVEN_SMS_FAILOVER_* set."""
        return cls(
            errors=settings.sms_failover_errors,
            window=settings.sms_failover_window_seconds,
            slow=settings.sms_failover_slow_seconds,
            step=settings.sms_failover_step,
            hold=settings.sms_failover_hold_seconds,
            recover=settings.sms_failover_recover_seconds,
        )


class _Health:
    """One provider's recent errors and acceptance times (monotonic seconds).

    The first `spent_errors` and `spent_sends` made a change already: they count for no other
    change of this provider's own, but still tell whether it is failing when points might go
    to it."""

    def __init__(self) -> None:
        self.errors: collections.deque[float] = collections.deque()
        self.sends: collections.deque[tuple[float, float]] = collections.deque()  # (at, took)
        self.spent_errors = 0
        self.spent_sends = 0

    def forget_before(self, cutoff: float) -> None:
        while self.errors and self.errors[0] < cutoff:
            self.errors.popleft()
            self.spent_errors = max(0, self.spent_errors - 1)
        while self.sends and self.sends[0][0] < cutoff:
            self.sends.popleft()
            self.spent_sends = max(0, self.spent_sends - 1)

    def spend(self) -> None:
        """The evidence so far made a change: the next change needs fresh trouble."""
        self.spent_errors = len(self.errors)
        self.spent_sends = len(self.sends)

    def fresh_errors(self) -> int:
        """Errors not spent on a change yet."""
        return len(self.errors) - self.spent_errors

    def slow_time(self, *, fresh: bool = True) -> float | None:
        """The 90th percentile of acceptance times (not spent yet, with `fresh`), with enough
        of them to count."""
        sends = list(self.sends)[self.spent_sends if fresh else 0 :]
        if len(sends) < MIN_SAMPLES:
            return None
        took = sorted(t for _, t in sends)
        return took[min(len(took) - 1, int(len(took) * PERCENTILE))]

    def failing(self, *, fresh: bool = True) -> bool:
        """Whether most of the sends in the window (not spent yet, with `fresh`), enough of
        them to count, were errors."""
        errors = self.fresh_errors() if fresh else len(self.errors)
        tried = errors + len(self.sends) - (self.spent_sends if fresh else 0)
        return tried >= MIN_SAMPLES and errors >= FAILING_SHARE * tried


class FailoverSmsProvider(SmsProvider):
    """Sends each SMS through one of several providers, chosen at random by priority.

    `providers` maps names to providers and `shares` names to resting priorities (percent).
    Safe to call from many threads at once: the choice and the bookkeeping hold a lock, the
    send itself does not. `clock` (monotonic seconds) and `rng` are for tests.
    """

    def __init__(
        self,
        providers: Mapping[str, SmsProvider],
        shares: Mapping[str, int],
        *,
        thresholds: Thresholds | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if len(providers) < 2 or set(shares) - set(providers):
            raise ValueError("failover needs two providers or more, and shares only for them")
        self.providers = dict(providers)
        self.resting = {name: shares.get(name, 0) for name in self.providers}
        self.priority = dict(self.resting)
        self.thresholds = thresholds or Thresholds()
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._health = {name: _Health() for name in self.providers}
        self._changed_at = float("-inf")  # the first change need not wait out `hold`
        self._avoid: collections.OrderedDict[str, str] = collections.OrderedDict()
        for name, priority in self.priority.items():
            set_provider_priority(provider=name, priority=priority)

    def __repr__(self) -> str:
        return f"<FailoverSmsProvider {self.priority}>"

    def choose(self, to: str, avoid: str | None = None) -> str:
        """The provider for a message to `to`: at random by priority, but not `avoid` (or the
        one that last put this number off in this process) if another has any priority."""
        with self._lock:
            self._recover(self._clock())
            avoided = avoid or self._avoid.get(to)
            weights = {n: p for n, p in self.priority.items() if n != avoided and p > 0}
            if not weights:
                weights = {n: p for n, p in self.priority.items() if p > 0}
            if not weights:  # every priority at 0: share evenly rather than send nothing
                weights = dict.fromkeys(self.priority, 1)
            names = list(weights)
            return self._rng.choices(names, weights=[weights[n] for n in names])[0]

    def send_sms(
        self,
        *,
        to: str,
        body: str,
        validity_seconds: int | None,
        status_callback: str | None,
        avoid: str | None = None,
    ) -> SendResult:
        """Send through the chosen provider (not `avoid`, the one that put this message off
        last, if another has priority) and learn from its answer."""
        name = self.choose(to, avoid)
        started = self._clock()
        try:
            result = self.providers[name].send_sms(
                to=to, body=body, validity_seconds=validity_seconds, status_callback=status_callback
            )
        except Exception:
            self.record(name, to, None, self._clock() - started)
            raise
        return self.record(name, to, result, self._clock() - started)

    async def send_sms_async(
        self,
        *,
        to: str,
        body: str,
        validity_seconds: int | None,
        status_callback: str | None,
        avoid: str | None = None,
    ) -> SendResult:
        """Send through the chosen provider's own async send (not `avoid`, as `send_sms`),
        and learn from its answer."""
        name = self.choose(to, avoid)
        started = self._clock()
        try:
            result = await send_sms_async(
                self.providers[name],
                to=to,
                body=body,
                validity_seconds=validity_seconds,
                status_callback=status_callback,
            )
        except Exception:
            self.record(name, to, None, self._clock() - started)
            raise
        return self.record(name, to, result, self._clock() - started)

    def record(self, name: str, to: str, result: SendResult | None, took: float) -> SendResult:
        """Note one answer of provider `name` (None: its client raised) and act on it;
        returns the answer with the provider's name."""
        outcome = "error" if result is None else result.outcome
        count_provider_send(provider=name, outcome=outcome)
        now = self._clock()
        with self._lock:
            health = self._health[name]
            if result is None or result.outcome == "retry":
                health.errors.append(now)
                self._avoid[to] = name
                self._avoid.move_to_end(to)
                while len(self._avoid) > REMEMBERED:
                    self._avoid.popitem(last=False)
            else:
                self._avoid.pop(to, None)
                if result.outcome == "accepted":
                    health.sends.append((now, took))
            self._check(name, now)
        if result is None:
            return SendResult("retry", provider=name)
        return result if result.provider else dataclasses.replace(result, provider=name)

    def _check(self, name: str, now: float) -> None:
        """Take `step` points from `name` if it is in trouble, or all of them if it fails on
        most sends, for a provider not failing itself (the lock is held)."""
        limits = self.thresholds
        for health in self._health.values():
            health.forget_before(now - limits.window)
        health = self._health[name]
        if self.priority[name] == 0:
            return
        # Points go only to a provider under its own error threshold (spent errors count).
        others = [n for n in self.priority if n != name and not self._erring(n)]
        if not others:
            return
        # Notify moves the points to the other provider; with more than two, to the best.
        best = max(others, key=lambda n: (len(self._health[n].errors) == 0, self.priority[n]))
        errors = health.fresh_errors()
        if health.failing():
            taken = self.priority[name]
            why = f"{errors} of its last sends were errors"
        elif now - self._changed_at < limits.hold:
            return
        elif errors > limits.errors:
            taken = min(limits.step, self.priority[name])
            why = f"{errors} errors in {limits.window:g} s"
        elif (slow := self._clearly_slower(name, best)) is not None:
            taken = min(limits.step, self.priority[name])
            why = f"90% of acceptances took up to {slow:.1f} s"
        else:
            return
        self.priority[name] -= taken
        self.priority[best] = min(100, self.priority[best] + taken)
        self._changed(now)
        health.spend()  # the evidence is spent: the next change needs fresh trouble
        count_provider_switch(from_provider=name, to_provider=best)
        log.warning(
            "SMS provider %s lost %d points of priority to %s (%s): now %s",
            name,
            taken,
            best,
            why,
            _shares(self.priority),
        )

    def _erring(self, name: str) -> bool:
        """Whether `name` is over its error threshold in the window (the lock is held)."""
        health = self._health[name]
        return len(health.errors) > self.thresholds.errors or health.failing(fresh=False)

    def _clearly_slower(self, name: str, other: str) -> float | None:
        """`name`'s 90th percentile of acceptance times if over `slow` and SLOWER times the
        other's; None if not, or if the other has too few to compare with (the lock is held)."""
        slow = self._health[name].slow_time()
        if slow is None or slow <= self.thresholds.slow:
            return None
        theirs = self._health[other].slow_time(fresh=False)
        if theirs is None or slow <= SLOWER * theirs:
            return None
        return slow

    def _recover(self, now: float) -> None:
        """Move priorities `step` back towards their resting shares once no change was made
        for `recover` seconds, for providers showing no trouble (the lock is held)."""
        limits = self.thresholds
        if self.priority == self.resting or now - self._changed_at < limits.recover:
            return
        for health in self._health.values():
            health.forget_before(now - limits.window)
        if any(health.errors for health in self._health.values()):
            return  # not quiet yet
        for name, priority in self.priority.items():
            target = self.resting[name]
            if priority < target:
                self.priority[name] = min(target, priority + limits.step)
            elif priority > target:
                self.priority[name] = max(target, priority - limits.step)
        self._changed(now)
        log.info(
            "SMS provider priorities back towards their shares: now %s", _shares(self.priority)
        )

    def _changed(self, now: float) -> None:
        self._changed_at = now
        for name, priority in self.priority.items():
            set_provider_priority(provider=name, priority=priority)


def _shares(priority: Mapping[str, int]) -> str:
    return ", ".join(f"{name}:{value}" for name, value in priority.items())


def make_failover(settings: Settings, providers: Mapping[str, SmsProvider]) -> FailoverSmsProvider:
    """The providers sharing traffic as HAVEN_SMS_PROVIDERS says, failing over as
    HAVEN_SMS_FAILOVER_* says."""
    from haven.settings import parse_provider_shares

    shares = parse_provider_shares(settings.sms_providers)
    return FailoverSmsProvider(
        providers,
        {name: share for name, share in shares.items() if name in providers},
        thresholds=Thresholds.from_settings(settings),
    )
