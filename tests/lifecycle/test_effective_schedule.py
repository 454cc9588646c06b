"""The effective-access wait notices access soon after it starts working (RBAC propagation of a few seconds
in the emulator, minutes in real Azure) at a polling cost an API bears."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from jitpim.lifecycle.waiting import effective_poller


class _FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        self.start = self.at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    def elapsed(self) -> float:
        return (self.at - self.start).total_seconds()


@pytest.mark.parametrize("works_after", [0.0, 0.3, 1.0, 3.0, 7.7, 19.9])
def test_access_in_the_first_seconds_is_noticed_within_half_a_second(works_after: float) -> None:
    for _ in range(20):  # jitter: several draws
        clock = _FakeClock()
        probes: list[float] = []

        def check(clock: _FakeClock = clock, probes: list[float] = probes) -> tuple[bool, None]:
            probes.append(clock.elapsed())
            return clock.elapsed() >= works_after, None

        done, _ = effective_poller(clock).until(check, timeout=timedelta(minutes=10))
        assert done
        assert clock.elapsed() - works_after <= 0.5, probes


def test_minutes_of_propagation_are_noticed_within_seconds_at_a_bearable_rate() -> None:
    works_after = 600.0  # real Azure RBAC can take ten minutes
    clock = _FakeClock()
    probes: list[float] = []

    def check() -> tuple[bool, None]:
        probes.append(clock.elapsed())
        return clock.elapsed() >= works_after, None

    done, _ = effective_poller(clock).until(check, timeout=timedelta(minutes=15))
    assert done
    assert clock.elapsed() - works_after <= 5.5
    assert len(probes) <= 200  # about 0.3 probes a second over ten minutes
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert max(gaps) <= 5.5
