"""Moments and windows as people read them in progress lines: UTC, with the date whenever it is not obvious.

A window of eight hours that starts in the evening ends the next day; writing its end as `01:57:00Z` alone
reads as the same day, seven hours earlier. So a time carries its date unless it falls on the same UTC day
as the moment it is read against (the window's start, or now).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_moment", "format_window"]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_moment(value: datetime | None, *, against: datetime | None = None) -> str:
    """`19:46:34Z` when `value` falls on the same UTC day as `against`, else `2026-12-04 01:57:34Z`; `?` for
    None. Without `against`, the date is always shown."""
    if value is None:
        return "?"
    moment = _utc(value)
    if against is not None and _utc(against).date() == moment.date():
        return f"{moment:%H:%M:%S}Z"
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"


def format_window(start: datetime, end: datetime) -> str:
    """`from 2026-12-03 17:57:00Z to 18:12:00Z`, or with the end's date when it is another day."""
    return f"from {format_moment(start)} to {format_moment(end, against=start)}"
