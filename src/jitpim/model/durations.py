"""Durations as people type them (`90m`, `1h30m`, `2h`) and as the APIs want them (ISO-8601 `PT1H30M`).

Months and years are refused: their length depends on the calendar, and an access window must be exact.
So is anything longer than `LONGEST` (ten years): no API takes it, and `99999999999999999999h` must be an
error with a hint, not an overflow deep in datetime arithmetic.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from ..errors import UsageError

__all__ = ["LONGEST", "format_duration", "iso8601_duration", "parse_duration"]

# The longest duration read at all (policies, timeouts, `--since`); an access window has its own, shorter cap
# (`jitpim.model.target.LONGEST_ACCESS`).
LONGEST = timedelta(days=3650)
# More digits than any meaningful count of weeks, days, hours, minutes or seconds within LONGEST.
_MAX_DIGITS = 12
_MAX_LENGTH = 40
_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}

_HUMAN = re.compile(
    r"^(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?\s*(?:(?P<s>\d+)\s*s)?$",
    re.IGNORECASE | re.ASCII,
)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE | re.ASCII,
)
_EXAMPLES = "e.g. 90m, 1h30m, 2h, 1d or ISO-8601 PT1H30M"


def parse_duration(text: str) -> timedelta:
    """Parse `90m`, `1h30m`, `2h`, `45s`, `1d` or ISO-8601 (`PT1H`, `P1DT2H`) into a positive timedelta.

    Raises `UsageError` for anything else, including a bare number (minutes or hours? we refuse to guess).
    """
    if not isinstance(text, str):
        raise UsageError(f"duration {text!r} is not text", hint=f"Write the duration with its unit, {_EXAMPLES}.")
    raw = text.strip()
    if not raw:
        raise UsageError("empty duration", hint=f"Give a duration, {_EXAMPLES}.")
    if len(raw) > _MAX_LENGTH:
        # Checked before the patterns, whose optional groups would backtrack for a long time over such input.
        raise UsageError(f"duration {text[:_MAX_LENGTH]!r}... is not a duration", hint=f"Use a unit, {_EXAMPLES}.")
    match = _ISO.match(raw) if raw[:1] in ("P", "p") else _HUMAN.match(raw)
    if match is None or not any(match.groupdict().values()):
        hint = f"Use a unit, {_EXAMPLES}."
        if raw.isdigit():
            hint = f"A bare number is ambiguous: write {raw}m or {raw}h ({_EXAMPLES})."
        elif raw[:1] in ("P", "p") and any(unit in raw.upper()[1:].split("T")[0] for unit in "YM"):
            hint = "Months and years have no fixed length; give days, hours or minutes instead."
        raise UsageError(f"cannot read duration {text!r}", hint=hint)
    digits = max(len(v.split(".")[0]) for v in match.groupdict().values() if v)
    if digits > _MAX_DIGITS:
        raise UsageError(
            f"duration {text!r} is far too long", hint=f"jitpim reads durations up to {format_duration(LONGEST)}."
        )
    try:
        seconds = sum(Decimal(v) * _SECONDS[k] for k, v in match.groupdict().items() if v)
    except InvalidOperation:  # pragma: no cover - the patterns only let digits through
        raise UsageError(f"cannot read duration {text!r}", hint=f"Use a unit, {_EXAMPLES}.") from None
    if seconds <= 0:
        raise UsageError(f"duration {text!r} is zero", hint=f"Give a positive duration, {_EXAMPLES}.")
    if seconds > Decimal(int(LONGEST.total_seconds())):
        raise UsageError(
            f"duration {text!r} is longer than {format_duration(LONGEST)}",
            hint=f"jitpim reads durations up to {format_duration(LONGEST)}; just-in-time access is minutes or hours.",
        )
    # Whole microseconds: timedelta's own resolution.
    value = timedelta(microseconds=int(seconds * 1_000_000))
    if not value:
        raise UsageError(f"duration {text!r} is zero", hint=f"Give a positive duration, {_EXAMPLES}.")
    return value


def _split(value: timedelta) -> tuple[int, int, int, int]:
    total = int(value.total_seconds())
    if total < 0:
        raise ValueError("negative durations have no meaning here")
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    return days, hours, minutes, seconds


def format_duration(value: timedelta) -> str:
    """The short human form: `1h30m`, `5m`, `2d3h`, `45s` (whole seconds; `0s` for zero)."""
    days, hours, minutes, seconds = _split(value)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n)
    return text or "0s"


def iso8601_duration(value: timedelta) -> str:
    """The ISO-8601 form the Graph and ARM PIM APIs take: `PT1H30M`, `P1DT2H`, `PT5M`, `PT0S`."""
    days, hours, minutes, seconds = _split(value)
    date = f"{days}D" if days else ""
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")
