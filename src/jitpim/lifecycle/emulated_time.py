"""Waiting on the emulator's time when the target is the emulator.

The emulator keeps its own clock (`GET {emulator}/_emulator/clock`: `offset_seconds` ahead of real time), and
`jitpim emulator advance N` moves it, processing expiries at once. A jitpim process waiting against the
emulator (PIM's five-minute no-removal window, a scheduled start, a lease's end) must wait on that clock, or
advancing it would not shorten the wait: `EmulatorClock.now()` is real time plus the emulator's offset, read
at most every `refresh` seconds, and `sleep(s)` returns once the emulated time has moved `s` seconds, so an
advance ends it within `refresh`.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from datetime import UTC, datetime, timedelta

__all__ = ["EmulatorClock"]


class EmulatorClock:
    def __init__(self, emulator_url: str, ca_bundle: str | None, *, refresh: float = 0.25) -> None:
        self._url = emulator_url.rstrip("/") + "/_emulator/clock"
        # Verified TLS: the emulator's CA is trusted explicitly, never verification turned off.
        self._context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
        self._refresh = refresh
        self._offset = timedelta(0)
        self._read_at = float("-inf")

    def _current_offset(self) -> timedelta:
        if time.monotonic() - self._read_at >= self._refresh:
            try:
                with urllib.request.urlopen(self._url, context=self._context, timeout=2) as answer:  # noqa: S310
                    self._offset = timedelta(seconds=float(json.load(answer)["offset_seconds"]))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # the emulator is busy or gone: keep the last offset; real time still moves
            self._read_at = time.monotonic()
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._current_offset()

    def sleep(self, seconds: float) -> None:
        end = self.now() + timedelta(seconds=max(0.0, seconds))
        while True:
            remaining = (end - self.now()).total_seconds()
            if remaining <= 0:
                return
            time.sleep(min(self._refresh, remaining))
