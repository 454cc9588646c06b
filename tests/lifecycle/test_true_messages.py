"""Messages say what happened: the closing line is built from the release outcomes, a pending approval is not
"granted", and a failed release's hint depends on whether the grant has an end at the source."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitpim import api
from jitpim.audit.ledger import Ledger
from jitpim.lifecycle import Hold, Step, hold
from jitpim.lifecycle.release import ReleaseReport, ReleaseStatus, summarize_releases
from jitpim.model import Target
from jitpim.testing import EmulatedClock, github_job_environ


class _Steps:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def step(self, step: Step) -> None:
        self.steps.append(step)

    def messages(self, name: str) -> list[str]:
        return [s.message for s in self.steps if s.name == name]


@pytest.fixture(name="rig")
def _rig(fresh_emu: Any, tmp_path: Path) -> Iterator[tuple[Any, EmulatedClock, Ledger, api.Settings]]:
    clock = EmulatedClock(fresh_emu)
    ledger = Ledger(tmp_path / "ledger.sqlite3", clock=clock.now)
    settings = api.Settings.from_environ(github_job_environ(fresh_emu.info, workdir=tmp_path))
    yield fresh_emu, clock, ledger, settings
    ledger.close()


@pytest.mark.parametrize(
    ("outcomes", "line"),
    [
        ([], "nothing had been granted"),
        (["released", "already_gone"], "everything granted was released"),
        (["released", "left_to_expire"], "1 released, 1 left to expire at the source"),
        (["left_to_expire", "left_to_expire"], "2 left to expire at the source"),
        (["handed_over", "failed"], "1 still held by another lease, 1 NOT released (access may remain)"),
    ],
)
def test_the_closing_clause_counts_each_outcome(outcomes: list[str], line: str) -> None:
    reports = [ReleaseReport(f"l{i}", ReleaseStatus(o)) for i, o in enumerate(outcomes)]
    assert summarize_releases(reports) == line


def test_interrupted_with_a_grant_left_to_expire_does_not_say_everything_was_released(rig: Any) -> None:
    """The issue's case: SIGINT inside PIM's five-minute window, the grant left to expire, and the closing
    line still said "everything granted was released"."""
    emu, clock, ledger, settings = rig
    target = Target.from_flags(
        kind="entra-role", role="Application Administrator", scope="/", duration="10m", justification="msgs"
    )
    steps = _Steps()

    def cancelled(holding: Hold) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    with api.Runtime.open(settings, clock=clock, ledger=ledger, live=steps) as rt:
        outcome = hold(api.plan(rt, api.AccessRequest((target,))), cancelled, rt.hold_context(rt.options()))
        assert [str(r.outcome) for r in outcome.releases] == ["left_to_expire"]
        closing = steps.messages("interrupted")
        assert len(closing) == 1 and closing[0].endswith("; 1 left to expire at the source"), closing
        assert "everything granted was released" not in " ".join(s.message for s in steps.steps)
        emu.advance(6 * 60)
        assert not api.release(rt, api.ReleaseRequest(lease_ids=(outcome.releases[0].lease_id,))).failed


def test_the_release_failure_hint_depends_on_the_kind() -> None:
    from jitpim.lifecycle.release import held_until

    rbac = held_until(["gh-1-1/rbac/officer-kv-1a2b3c4d"])
    assert "no end at the source" in rbac and "jitpim reap" in rbac and "expiry" not in rbac
    pim = held_until(["gh-1-1/entra-role/app-admin-1a2b3c4d"])
    assert pim == "The grant also ends at its expiry at the source."
    both = held_until(["gh-1-1/rbac/a-1", "gh-1-1/azure-role/b-2"])
    assert "no end at the source" in both and "The PIM grant also ends at its expiry" in both


def test_a_failed_rbac_release_says_the_access_stays_until_reap(rig: Any) -> None:
    """Plain RBAC has no expiry at the source: the hint must not promise one."""
    from datetime import timedelta

    import requests

    from jitpim.errors import ReleaseFailedError
    from jitpim.lifecycle import LifecycleOptions

    emu, clock, ledger, settings = rig
    info = emu.info
    control = info["control"]
    target = Target.from_flags(
        kind="rbac",
        role="Key Vault Secrets Officer",
        scope=info["vaults"]["kv-payments"]["resource_id"],
        duration="10m",
        justification="msgs",
    )
    options = LifecycleOptions(release_deadline=timedelta(seconds=20))
    with api.Runtime.open(settings, clock=clock, ledger=ledger) as rt:
        with pytest.raises(ReleaseFailedError) as failure, api.hold(rt, api.AccessRequest((target,), options)):
            rule = {"kind": "throttle", "path": "roleAssignments/", "method": "DELETE", "count": 1000, "retry_after": 3}
            requests.post(f"{control}/faults", json=[rule], verify=info["ca_cert"], timeout=10).raise_for_status()
        assert "no end at the source" in failure.value.hint and "jitpim reap" in failure.value.hint
        assert "expiry at the source" not in failure.value.hint
        requests.delete(f"{control}/faults", verify=info["ca_cert"], timeout=10).raise_for_status()
        lease = ledger.list()[0]["lease_id"]
        assert api.release(rt, api.ReleaseRequest(lease_ids=(lease,))).failed == []
