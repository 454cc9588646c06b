"""Times in progress lines keep their date whenever it differs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from jitpim.model.times import format_moment, format_window

EVENING = datetime(2026, 12, 3, 17, 57, tzinfo=UTC)


def test_a_window_that_ends_the_next_day_shows_both_dates() -> None:
    """The issue's case: 8 h from 17:57Z read 'to 01:57Z', seemingly earlier the same day."""
    assert format_window(EVENING, EVENING + timedelta(hours=8)) == ("from 2026-12-03 17:57:00Z to 2026-12-04 01:57:00Z")


def test_a_window_within_the_day_shows_the_date_once() -> None:
    assert format_window(EVENING, EVENING + timedelta(minutes=15)) == "from 2026-12-03 17:57:00Z to 18:12:00Z"


def test_moments_are_read_in_utc_against_a_reference() -> None:
    tokyo = timezone(timedelta(hours=9))
    late = datetime(2026, 12, 4, 2, 0, tzinfo=tokyo)  # 2026-12-03 17:00Z
    assert format_moment(late, against=EVENING) == "17:00:00Z"
    assert format_moment(EVENING + timedelta(days=1), against=EVENING) == "2026-12-04 17:57:00Z"
    assert format_moment(EVENING) == "2026-12-03 17:57:00Z"
    assert format_moment(None) == "?"
