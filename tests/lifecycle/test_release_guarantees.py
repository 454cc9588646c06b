"""No grant outlives its job (issue 9, items 1-3), in process against the emulator with its clock:
a ledger that stops accepting writes does not skip the release; a throttled release is asked again until the
release deadline; a cancelled job whose PIM grant is inside its five-minute window is left to expire instead
of blocking."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim import api
from jitpim.audit.ledger import Ledger
from jitpim.errors import LedgerError, ReleaseFailedError
from jitpim.lifecycle import Hold, LifecycleOptions, Step, hold
from jitpim.model import Target
from jitpim.testing import EmulatedClock, github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


class FillingLedger(Ledger):
    """A ledger whose disk fills up on demand: every write fails from then on (reads still work)."""

    full = False

    def _write(self, *, durable: bool = True) -> contextlib.AbstractContextManager[Any]:
        if self.full:
            raise LedgerError("cannot write the ledger: database or disk is full", target=str(self.path))
        return super()._write(durable=durable)


class _Rig:
    def __init__(self, emu: Any, tmp: Path) -> None:
        self.emu = emu
        self.info = emu.info
        self.clock = EmulatedClock(emu)
        self.environ = github_job_environ(self.info, workdir=tmp)
        self.ledger = FillingLedger(tmp / "ledger.sqlite3", clock=self.clock.now)
        self.settings = api.Settings.from_environ(self.environ)

    def runtime(self, live: Any = None) -> api.Runtime:
        return api.Runtime.open(self.settings, clock=self.clock, ledger=self.ledger, live=live)

    def faults(self, *rules: dict[str, Any]) -> None:
        requests.post(
            f"{self.info['control']}/faults", json=list(rules), verify=self.info["ca_cert"], timeout=10
        ).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.info['control']}/faults", verify=self.info["ca_cert"], timeout=10).raise_for_status()

    def officer_grants(self) -> list[Any]:
        world = self.emu.runtime.world
        ci = self.info["principals"]["ci-app"]["object_id"]
        with world.lock:
            return [
                a
                for a in world.rbac.assignments.values()
                if a.principal_id == ci and a.role_definition_id == OFFICER_ID
            ]

    def directory_grants(self) -> list[Any]:
        world = self.emu.runtime.world
        ci = self.info["principals"]["ci-app"]["object_id"]
        with world.lock:
            return [a for a in world.directory.role_assignments if a.principal_id == ci and a.source == "pim"]


@pytest.fixture(name="rig")
def _rig(fresh_emu: Any, tmp_path: Path) -> Iterator[_Rig]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    rig = _Rig(fresh_emu, tmp_path)
    yield rig
    rig.ledger.close()


def _officer(info: dict[str, Any]) -> Target:
    return Target.from_flags(
        kind="rbac",
        role="Key Vault Secrets Officer",
        scope=info["vaults"]["kv-payments"]["resource_id"],
        duration="10m",
        justification="rotate",
    )


# -- 1. a ledger write failure never skips the release ----------------------------------------------------------


def test_a_ledger_that_fills_up_while_held_does_not_skip_the_release(rig: _Rig) -> None:
    with rig.runtime() as rt:
        with pytest.raises(ReleaseFailedError) as raised, api.hold(rt, api.AccessRequest((_officer(rig.info),))):
            assert len(rig.officer_grants()) == 1
            rig.ledger.full = True
        assert rig.officer_grants() == [], "the release was sent and verified although the ledger is full"
    error = raised.value
    assert error.exit_code == 85
    assert "could not record" in error.message and "Key Vault Secrets Officer" in error.message
    assert "Nothing is held" in error.hint
    rig.ledger.full = False
    assert [lease["state"] for lease in rig.ledger.list()] == ["effective"]  # what the ledger still shows


class _FillWhenTheChildStarts:
    def __init__(self, ledger: FillingLedger) -> None:
        self.ledger = ledger

    def step(self, step: Step) -> None:
        if step.name == "child":
            self.ledger.full = True


def test_exec_whose_ledger_fills_while_the_command_runs_still_releases(rig: _Rig) -> None:
    """The case from the field: the disk fills while the child runs. The command's end cannot be recorded, the
    release still goes out and is verified, and the exit is 85 naming the lease, not 79 "nothing granted"."""
    with rig.runtime(live=_FillWhenTheChildStarts(rig.ledger)) as rt:
        request = api.ExecRequest(api.AccessRequest((_officer(rig.info),)), (sys.executable, "-c", "pass"))
        with pytest.raises(ReleaseFailedError) as raised:
            api.exec(rt, request)
    assert rig.officer_grants() == []
    assert "the ledger could not record the end of" in raised.value.message
    assert "nothing was granted" not in str(raised.value).lower() + raised.value.hint.lower()


# -- 3. a throttled release is asked again until the deadline ---------------------------------------------------


def test_a_release_throttled_eight_times_is_retried_until_it_goes_through(rig: _Rig) -> None:
    with rig.runtime() as rt:
        with api.hold(rt, api.AccessRequest((_officer(rig.info),))) as held:
            rig.faults(
                {"kind": "throttle", "path": "roleAssignments/", "method": "DELETE", "count": 8, "retry_after": 1}
            )
        assert [str(r.outcome) for r in held.releases] == ["released"]
    assert rig.officer_grants() == []
    assert [lease["state"] for lease in rig.ledger.list()] == ["released"]


def test_a_release_still_throttled_at_its_deadline_fails_loudly(rig: _Rig) -> None:
    options = LifecycleOptions(release_deadline=timedelta(seconds=20))
    with rig.runtime() as rt:
        with (
            pytest.raises(ReleaseFailedError),
            api.hold(rt, api.AccessRequest((_officer(rig.info),), options)),
        ):
            rig.faults(
                {"kind": "throttle", "path": "roleAssignments/", "method": "DELETE", "count": 1000, "retry_after": 3}
            )
        assert len(rig.officer_grants()) == 1, "still throttled: the grant is still there"
        assert [lease["state"] for lease in rig.ledger.list()] == ["release_failed"]
        rig.clear_faults()  # the throttling ends: a later release takes it back
        lease = rig.ledger.list()[0]["lease_id"]
        assert api.release(rt, api.ReleaseRequest(lease_ids=(lease,))).failed == []
    assert rig.officer_grants() == []


# -- 2. a cancelled job does not block on PIM's five-minute window ------------------------------------------------


def test_cancelled_inside_pims_five_minute_window_the_grant_is_left_to_expire(rig: _Rig) -> None:
    """SIGINT while a PIM grant is inside the window in which PIM refuses its removal: jitpim records
    `left_to_expire` at once (GitHub kills the job 10 s after cancelling it) instead of waiting 5 minutes."""
    target = Target.from_flags(
        kind="entra-role", role="Application Administrator", scope="/", duration="10m", justification="rotate"
    )

    signalled: list[Any] = []

    def cancelled(holding: Hold) -> None:
        assert len(rig.directory_grants()) == 1
        signalled.append(rig.clock.now())
        os.kill(os.getpid(), signal.SIGINT)

    with rig.runtime() as rt:
        options = rt.options()
        outcome = hold(api.plan(rt, api.AccessRequest((target,))), cancelled, rt.hold_context(options))
        assert outcome.interrupted_by == signal.SIGINT
        assert outcome.exit_code(None) == 130
        assert [str(r.outcome) for r in outcome.releases] == ["left_to_expire"]
        events = [e["type"] for e in rig.ledger.events()]
        assert "lease.left_to_expire" in events and "lease.release_retried" not in events
        assert rig.clock.now() - signalled[0] < options.cancel_budget  # not PIM's 5 minutes
        # Not blocked: still inside the window, the grant is still there and ends at the source.
        assert len(rig.directory_grants()) == 1
        rig.emu.advance(6 * 60)
        released = api.release(rt, api.ReleaseRequest(lease_ids=(outcome.releases[0].lease_id,)))
        assert not released.failed
    assert rig.directory_grants() == []


def test_a_cancelled_release_does_not_sit_out_a_long_retry_after(rig: _Rig) -> None:
    """Cancelled while the removal is throttled with Retry-After 60: neither jitpim's retries nor the HTTP
    layer's wait past the cancel budget; the release fails loudly (85) instead of outliving GitHub's SIGKILL."""
    signalled: list[Any] = []

    def cancelled(holding: Hold) -> None:
        rig.faults(
            {"kind": "throttle", "path": "roleAssignments/", "method": "DELETE", "count": 1000, "retry_after": 60}
        )
        signalled.append(rig.clock.now())
        os.kill(os.getpid(), signal.SIGINT)

    with rig.runtime() as rt:
        options = rt.options()
        with pytest.raises(ReleaseFailedError):
            hold(api.plan(rt, api.AccessRequest((_officer(rig.info),))), cancelled, rt.hold_context(options))
        assert rig.clock.now() - signalled[0] <= options.cancel_budget + timedelta(seconds=1)
        assert len(rig.officer_grants()) == 1, "still throttled: the grant is still there, and the exit says so"
        rig.clear_faults()
        lease = rig.ledger.list()[0]["lease_id"]
        assert api.release(rt, api.ReleaseRequest(lease_ids=(lease,))).failed == []
    assert rig.officer_grants() == []
