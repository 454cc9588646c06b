"""Durations as people type them (`90m`, `1h30m`, `2h`) and as the APIs want them (ISO-8601 `PT1H30M`).

Months and years are refused: their length depends on the calendar, and an access window must be exact.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ..errors import UsageError

__all__ = ["format_duration", "iso8601_duration", "parse_duration"]

_HUMAN = re.compile(
    r"^(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?\s*(?:(?P<s>\d+)\s*s)?$",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_EXAMPLES = "e.g. 90m, 1h30m, 2h, 1d or ISO-8601 PT1H30M"


def parse_duration(text: str) -> timedelta:
    """Parse `90m`, `1h30m`, `2h`, `45s`, `1d` or ISO-8601 (`PT1H`, `P1DT2H`) into a positive timedelta.

    Raises `UsageError` for anything else, including a bare number (minutes or hours? we refuse to guess).
    """
    raw = text.strip()
    if not raw:
        raise UsageError("empty duration", hint=f"Give a duration, {_EXAMPLES}.")
    match = _ISO.match(raw) if raw[:1] in ("P", "p") else _HUMAN.match(raw)
    if match is None or not any(match.groupdict().values()):
        hint = f"Use a unit, {_EXAMPLES}."
        if raw.isdigit():
            hint = f"A bare number is ambiguous: write {raw}m or {raw}h ({_EXAMPLES})."
        elif raw[:1] in ("P", "p") and any(unit in raw.upper()[1:].split("T")[0] for unit in "YM"):
            hint = "Months and years have no fixed length; give days, hours or minutes instead."
        raise UsageError(f"cannot read duration {text!r}", hint=hint)
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    value = timedelta(
        weeks=parts.get("w", 0.0),
        days=parts["d"],
        hours=parts["h"],
        minutes=parts["m"],
        seconds=parts["s"],
    )
    if value <= timedelta(0):
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
