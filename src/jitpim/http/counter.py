"""Counting the calls that reach the wire, so tests (and `--verbose` summaries) can assert on them."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Call", "RequestCounter"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # without the query string
    status: int | None  # None when no response arrived


@dataclass
class RequestCounter:
    """Every attempt (retries included) in order, thread-safe. Holds no headers and no bodies."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, method: str, url: str, status: int | None) -> None:
        with self._lock:
            self.calls.append(Call(method.upper(), urlsplit(url).path, status))

    @property
    def total(self) -> int:
        return len(self.calls)

    def count(self, method: str | None = None, path_contains: str = "", status: int | None = None) -> int:
        """How many attempts match all the given filters."""
        return sum(
            1
            for c in list(self.calls)
            if (method is None or c.method == method.upper())
            and path_contains in c.path
            and (status is None or c.status == status)
        )

    def by_status(self) -> Counter[int | None]:
        return Counter(c.status for c in list(self.calls))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
