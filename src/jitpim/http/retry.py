"""When to retry an API call, and for how long to wait first. Pure: no HTTP library is imported here.

Rules (the pipeline policy in `_pipeline.py` applies them):

- 429 is retried for every method: the service states it did not process the request.
- 500, 502, 503, 504 and a response that never arrived are retried only for idempotent methods (GET, HEAD,
  OPTIONS, DELETE), or when the caller marks the call `retry_unsafe=True`. A POST/PUT/PATCH whose response
  was lost may have been applied: it is recovered by looking the request up, never by sending it twice.
- A connection that could not be opened (nothing was sent) is retried for every method.
- The wait is the server's `retry-after-ms` / `x-ms-retry-after-ms` / `Retry-After` (seconds or an HTTP
  date) when present, else exponential backoff with jitter. A server asking for more than
  `retry_after_cap` seconds, or a wait that would exceed `max_total_wait`, ends the retries at once: the
  caller gets a `ThrottledError` carrying `retry_after` and decides.
- Tests inject `sleep=` (or call `set_testing(True)`), so no test waits for wall time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "IDEMPOTENT_METHODS",
    "RetryEvent",
    "RetrySettings",
    "default_sleep",
    "is_testing",
    "parse_retry_after",
    "set_testing",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_TESTING = False


def set_testing(enabled: bool) -> None:
    """Turn waiting off (or back on) for every client that uses the default sleep (stamina's switch)."""
    global _TESTING
    _TESTING = enabled


def is_testing() -> bool:
    return _TESTING


def default_sleep(seconds: float) -> None:
    """`time.sleep`, unless `set_testing(True)` is in force."""
    if not _TESTING and seconds > 0:
        time.sleep(seconds)


@dataclass(frozen=True)
class RetrySettings:
    """How hard to try. `max_retries` counts retries (so 4 means up to 5 attempts)."""

    max_retries: int = 4
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    jitter: bool = True
    retry_after_cap: float = 120.0
    max_total_wait: float = 300.0

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry `retry_number` (0-based) without a server hint: base * 2^n, capped, with
        "equal jitter" (between half and all of it) so that parallel jobs do not retry in lockstep."""
        delay = min(self.backoff_max, self.backoff_base * float(2**retry_number))
        if self.jitter:
            delay = delay / 2 + rng() * delay / 2
        return delay


@dataclass(frozen=True)
class RetryEvent:
    """One retry that happened: for logs, tests and the run summary (no bodies, no headers)."""

    method: str
    path: str
    attempt: int  # 1 for the first retry
    status: int | None  # None when no response arrived
    delay: float
    reason: str  # "throttled", "server error", "no response", "connection failed"


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait according to the response headers, or None when they say nothing usable."""
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0)):
        value = lowered.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
