"""The emulator's clock.

Emulated time is wall-clock time plus an offset that only grows (`advance`). PIM schedules, expiries and
RBAC propagation follow this clock; token lifetimes follow the wall clock, because the clients that cache
tokens (azure-identity, MSAL) judge expiry by their own wall clock, and a token that the emulator called
expired while the client still trusts it would make every test after an `advance` fail for the wrong reason.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["EmulatorClock", "format_time", "parse_time"]


class EmulatorClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    @staticmethod
    def wall() -> datetime:
        return datetime.now(UTC)

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)


def format_time(value: datetime | None) -> str | None:
    """ISO-8601 UTC with 7 fractional digits, as Graph and ARM emit it."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def parse_time(value: str) -> datetime:
    """Parse the ISO-8601 forms clients send (Z or offset, 0-7 fractional digits)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            digits += ch
        text = head + "." + (digits[:6].ljust(6, "0")) + tail
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
