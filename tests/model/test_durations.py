"""Durations as typed by people and as sent to the PIM APIs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jitpim.errors import UsageError
from jitpim.model import format_duration, iso8601_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2h", timedelta(hours=2)),
        ("45s", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("10min", timedelta(minutes=10)),
        ("PT1H", timedelta(hours=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT90M", timedelta(minutes=90)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1W", timedelta(weeks=1)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("pt8h", timedelta(hours=8)),
    ],
)
def test_parse_duration_accepts_human_and_iso_forms(text: str, expected: timedelta) -> None:
    """Every documented spelling parses to the same timedelta."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "abc", "1x", "h", "P", "PT", "0m", "PT0S", "-5m"])
def test_parse_duration_refuses_garbage_when_given_no_valid_unit(text: str) -> None:
    """Unreadable or zero durations raise UsageError with a hint."""
    with pytest.raises(UsageError) as info:
        parse_duration(text)
    assert info.value.hint


def test_parse_duration_refuses_bare_number_when_unit_is_missing() -> None:
    """`90` could be minutes or hours; the hint shows both spellings."""
    with pytest.raises(UsageError) as info:
        parse_duration("90")
    assert "90m" in info.value.hint and "90h" in info.value.hint


def test_parse_duration_refuses_months_when_length_is_calendar_dependent() -> None:
    """ISO months/years have no fixed length; the hint says so."""
    with pytest.raises(UsageError) as info:
        parse_duration("P1M")
    assert "Months" in info.value.hint


@pytest.mark.parametrize(
    ("value", "human", "iso"),
    [
        (timedelta(minutes=90), "1h30m", "PT1H30M"),
        (timedelta(minutes=5), "5m", "PT5M"),
        (timedelta(days=2, hours=3), "2d3h", "P2DT3H"),
        (timedelta(days=1), "1d", "P1D"),
        (timedelta(seconds=45), "45s", "PT45S"),
        (timedelta(0), "0s", "PT0S"),
    ],
)
def test_format_duration_round_trips_when_formatted_both_ways(value: timedelta, human: str, iso: str) -> None:
    """The human and ISO forms both parse back to the original value."""
    assert format_duration(value) == human
    assert iso8601_duration(value) == iso
    if value:
        assert parse_duration(human) == value
        assert parse_duration(iso) == value


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("99999999999999999999h", "far too long"),
        ("P99999999999W", "longer than 3650d"),
        ("3651d", "longer than 3650d"),
        ("1" * 100_000 + "h", "is not a duration"),
        ("1d" + " " * 3000 + "x", "is not a duration"),
        ("PT0.0000001S", "is zero"),
        ("\u0665m", "cannot read duration"),  # an Arabic-Indic five: digits are ASCII only
        ("1h\n::warning::x", "cannot read duration"),
    ],
)
def test_absurd_durations_are_usage_errors_not_overflows(text: str, needle: str) -> None:
    """Huge, endless or sub-microsecond durations are refused with a hint, quickly, and never overflow."""
    with pytest.raises(UsageError) as info:
        parse_duration(text)
    assert needle in info.value.message and info.value.hint
    assert "\n" not in str(info.value)


def test_a_duration_that_is_not_text_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not text"):
        parse_duration(15)  # type: ignore[arg-type]


def test_the_longest_duration_still_parses() -> None:
    assert parse_duration("3650d") == timedelta(days=3650)


def test_fuzzed_durations_parse_into_range_or_raise_usage_error() -> None:
    """Random strings over the parser's own alphabet (digits, units, P/T, dots, spaces, signs): each gives a
    positive timedelta no longer than LONGEST, or a UsageError with a hint; never anything else, never slowly."""
    import random
    import time

    from jitpim.model.durations import LONGEST

    rng = random.Random(424242)
    alphabet = "0123456789" * 3 + "dhmsDHMSPTWYpt.  -+\u0665e"
    started = time.monotonic()
    parsed = refused = 0
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 48)))
        if rng.random() < 0.2:
            text = str(rng.randint(0, 10 ** rng.randint(1, 30))) + rng.choice("dhms")
        try:
            value = parse_duration(text)
        except UsageError as error:
            assert error.hint
            refused += 1
        else:
            assert timedelta(0) < value <= LONGEST, (text, value)
            parsed += 1
    assert parsed > 200 and refused > 2000, (parsed, refused)
    assert time.monotonic() - started < 10
