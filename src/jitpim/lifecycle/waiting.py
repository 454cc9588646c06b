"""Waiting for something to become true: polling that backs off, honours a server's Retry-After, stops
at a deadline, and reports progress. Clock and sleep are injected, so tests never wait for wall time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, TypeVar

__all__ = ["EFFECTIVE_SCHEDULE", "Clock", "Poller", "SystemClock", "effective_poller"]

T = TypeVar("T")


class Clock(Protocol):
    """Wall-clock time and sleeping; tests substitute a fake that advances without waiting."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass
class Poller:
    """Checks `initial` seconds apart for the first `steady_for` seconds, then backing off by `factor` up to
    `maximum` seconds, with jitter, until `timeout`."""

    clock: Clock
    initial: float = 1.0
    maximum: float = 15.0
    factor: float = 1.6
    jitter: float = 0.1
    steady_for: float = 0.0

    def until(
        self,
        check: Callable[[], tuple[bool, T]],
        *,
        timeout: timedelta,
        on_wait: Callable[[float, T], None] | None = None,
        retry_after: Callable[[T], float | None] | None = None,
    ) -> tuple[bool, T]:
        """Call `check` until it reports done or `timeout` passes; returns (done, last value).

        `retry_after(value)` may name how long the server asked us to wait; it wins over the backoff."""
        started = self.clock.now()
        deadline = started + timeout
        delay = self.initial
        while True:
            done, value = check()
            if done:
                return True, value
            remaining = (deadline - self.clock.now()).total_seconds()
            if remaining <= 0:
                return False, value
            wait = delay
            asked = retry_after(value) if retry_after else None
            if asked is not None and asked > 0:
                wait = asked
            wait = min(wait * (1 + random.uniform(-self.jitter, self.jitter)), remaining)
            if on_wait:
                on_wait(wait, value)
            self.clock.sleep(wait)
            if (self.clock.now() - started).total_seconds() >= self.steady_for:
                delay = min(delay * self.factor, self.maximum)


# Waiting until a grant takes effect: a probe every 0.45 s (at most 0.5 s with jitter) for the first 20 s,
# where propagation usually ends, so access is noticed at most half a second after it starts to work; then
# backing off by 1.25x to one probe every 5 s, so the minutes real Azure can take are still noticed within
# seconds, at about 0.2 probes a second (some 170 probes over ten minutes), which no API throttles.
EFFECTIVE_SCHEDULE: Final = {"initial": 0.45, "steady_for": 20.0, "factor": 1.25, "maximum": 5.0, "jitter": 0.1}


def effective_poller(clock: Clock) -> Poller:
    """The poller for effective-access probes (see EFFECTIVE_SCHEDULE)."""
    return Poller(clock, **EFFECTIVE_SCHEDULE)
