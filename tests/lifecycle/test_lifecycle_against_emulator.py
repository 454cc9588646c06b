"""The library lifecycle against the emulator, in-process, with the emulator's clock as the only clock:
propagation, PIM's five-minute window, faults (429 storms, 5xx bursts, lost responses), and every kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.audit.ledger import Ledger
from jitpim.cloud import resolve_cloud
from jitpim.emulator import Emulator
from jitpim.errors import NotEffectiveError
from jitpim.lifecycle import Elevation, LifecycleOptions, Session, Timeline, make_plan
from jitpim.model import Mode, RunContext, Target
from jitpim.testing import EmulatedClock, github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


class _Rig:
    def __init__(self, emu: Emulator, tmp: Path, environ: dict[str, str] | None = None) -> None:
        self.emu = emu
        self.info = emu.info
        self.clock = EmulatedClock(emu)
        self.environ = environ or github_job_environ(self.info, workdir=tmp)
        self.cloud = resolve_cloud(environ=self.environ)
        self.ledger = Ledger.open(tmp / "ledger.sqlite3", clock=self.clock.now)
        self.timeline = Timeline()

    def session(self, mode: Mode = Mode.DIRECT) -> Session:
        return Session(self.cloud, mode, self.clock, environ=self.environ, sleep=self.clock.sleep)

    def elevation(self, session: Session, targets: list[Target], **options: Any) -> Elevation:
        opts = LifecycleOptions(mode=session.mode, poll_initial=1.0, poll_maximum=5.0, **options)
        plan = make_plan(targets, contexts=session.context, options=opts, clock=self.clock)
        return Elevation(plan, self.ledger, RunContext.from_environ(self.environ), self.clock, opts, self.timeline)

    def faults(self, *rules: dict[str, Any]) -> None:
        requests.post(
            f"{self.info['control']}/faults", json=list(rules), verify=self.info["ca_cert"], timeout=10
        ).raise_for_status()

    def officer_grants(self) -> list[Any]:
        world = self.emu.runtime.world
        ci = self.info["principals"]["ci-app"]["object_id"]
        with world.lock:
            return [
                a
                for a in world.rbac.assignments.values()
                if a.principal_id == ci and a.role_definition_id == OFFICER_ID
            ]


@pytest.fixture(name="rig")
def _rig(fresh_emu: Emulator, tmp_path: Path) -> Any:
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


def test_waits_for_rbac_propagation_on_the_emulated_clock(rig: _Rig) -> None:
    """The default scenario propagates RBAC after 3 s: jitpim reports effective only after that."""
    with rig.session() as session, rig.elevation(session, [_officer(rig.info)]) as elevation:
        held = elevation.held[0]
        assert held.effective_at is not None and held.granted_at is not None
        assert (held.effective_at - held.granted_at).total_seconds() >= 3
        assert len(rig.officer_grants()) == 1
    assert rig.officer_grants() == []
    assert rig.ledger.verify_chain().ok


def test_slow_propagation_is_waited_out(rig: _Rig) -> None:
    world = rig.emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 240
        world.apply_settings()
    with rig.session() as session, rig.elevation(session, [_officer(rig.info)]) as elevation:
        assert elevation.held[0].state == "effective"
    assert rig.officer_grants() == []


def test_never_effective_in_time_fails_and_releases(rig: _Rig) -> None:
    from datetime import timedelta

    world = rig.emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 3600
        world.apply_settings()
    with (
        rig.session() as session,
        pytest.raises(NotEffectiveError),
        rig.elevation(session, [_officer(rig.info)], effective_timeout=timedelta(minutes=2)),
    ):
        pass
    assert rig.officer_grants() == []


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "throttle", "path": "roleAssignments/", "method": "PUT", "count": 5, "retry_after": 7},
        {"kind": "error", "path": "roleAssignments/", "method": "PUT", "status": 503, "count": 3},
        {"kind": "lost_response", "path": "roleAssignments/", "method": "PUT", "count": 1},
        {"kind": "throttle", "path": "/secrets", "count": 4, "retry_after": 2},
        {"kind": "error", "path": "roleAssignments/", "method": "DELETE", "status": 500, "count": 2},
    ],
    ids=["429-storm-on-grant", "5xx-burst-on-grant", "lost-grant-response", "429-on-probe", "5xx-on-release"],
)
def test_faults_end_in_exactly_one_grant_then_a_clean_release(rig: _Rig, rule: dict[str, Any]) -> None:
    rig.faults(rule)
    with rig.session() as session, rig.elevation(session, [_officer(rig.info)]):
        assert len(rig.officer_grants()) == 1
    assert rig.officer_grants() == []
    record = rig.ledger.list()[0]
    assert record["state"] == "released"


def test_entra_role_direct_admin_assign_then_release_after_pim_window(rig: _Rig) -> None:
    """ci-app grants itself Application Administrator (adminAssign with expiration), waits until a fresh token
    carries it, and on release meets PIM's five-minute rule: it waits for the window (emulated)."""
    target = Target.from_flags(
        kind="entra-role",
        role="Application Administrator",
        scope="/",
        duration="10m",
        justification="rotate app credential",
    )
    world = rig.emu.runtime.world
    ci = rig.info["principals"]["ci-app"]["object_id"]
    with rig.session() as session, rig.elevation(session, [target]) as elevation:
        assert elevation.held[0].state == "effective"
        with world.lock:
            assert any(a.principal_id == ci and a.source == "pim" for a in world.directory.role_assignments)
    with world.lock:
        assert not any(a.principal_id == ci and a.source == "pim" for a in world.directory.role_assignments)
    events = [e["type"] for e in rig.ledger.events()]
    assert "lease.release_retried" in events
    activities = {row["activityDisplayName"] for row in world.audit.rows}
    assert any("Remove member from role" in a for a in activities)


def test_alice_self_activates_an_eligible_azure_role(fresh_emu: Emulator, tmp_path: Path) -> None:
    info = fresh_emu.info
    alice = info["principals"]["alice"]
    environ = {
        "AZURE_USERNAME": alice["user_principal_name"],
        "AZURE_PASSWORD": alice["password"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
    }
    rig = _Rig(fresh_emu, tmp_path, environ)
    target = Target.from_flags(
        kind="azure-role",
        role="Key Vault Secrets Officer",
        scope=info["vaults"]["kv-payments"]["resource_id"],
        duration="30m",
        justification="hotfix",
    )
    world = fresh_emu.runtime.world
    try:
        with rig.session(Mode.SELF) as session, rig.elevation(session, [target]) as elevation:
            assert elevation.held[0].state == "effective"
            with world.lock:
                assert any(
                    a.principal_id == alice["object_id"] and a.end is not None for a in world.rbac.assignments.values()
                )
        with world.lock:
            assert not any(
                a.principal_id == alice["object_id"] and a.end is not None for a in world.rbac.assignments.values()
            )
    finally:
        rig.ledger.close()


def test_pim_group_membership_is_granted_then_removed(rig: _Rig) -> None:
    """ci-app holds PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup: it makes itself a time-bound member of
    the group that holds Key Vault Secrets Officer, waits until the membership shows, and is removed after."""
    target = Target.from_flags(
        kind="pim-group", scope="Key Vault Operators", access="member", duration="10m", justification="rotate"
    )
    world = rig.emu.runtime.world
    group = world.directory.groups[rig.info["principals"]["kv-operators"]["object_id"]]
    ci = rig.info["principals"]["ci-app"]["object_id"]
    with rig.session() as session, rig.elevation(session, [target]) as elevation:
        assert elevation.held[0].resolved.scope == group.object_id
        with world.lock:
            assert ci in group.members and group.members[ci].source == "pim"
    with world.lock:
        assert ci not in group.members


def test_scheduled_window_opens_before_the_command_runs(rig: _Rig) -> None:
    """A maintenance window an hour from now: the grant is made now (Granted at the source), and the command
    side waits for the window to open, then until the access works."""
    from datetime import timedelta

    start = rig.clock.now() + timedelta(hours=1)
    target = Target.from_flags(
        kind="azure-role",
        role="Key Vault Secrets Officer",
        scope=rig.info["vaults"]["kv-payments"]["resource_id"],
        duration="30m",
        justification="maintenance window",
        start=start,
    )
    with rig.session() as session, rig.elevation(session, [target]) as elevation:
        held = elevation.held[0]
        assert held.state == "effective"
        assert rig.clock.now() >= start
        assert held.grant.start_at is not None and held.grant.start_at >= start - timedelta(seconds=1)
    assert rig.officer_grants() == []


def test_elevate_returns_a_scheduled_grant_without_waiting(rig: _Rig) -> None:
    from datetime import timedelta

    start = rig.clock.now() + timedelta(hours=2)
    target = Target.from_flags(
        kind="azure-role",
        role="Key Vault Secrets Officer",
        scope=rig.info["vaults"]["kv-payments"]["resource_id"],
        duration="30m",
        justification="maintenance window",
        start=start,
    )
    with rig.session() as session:
        elevation = rig.elevation(session, [target], wait_for_start=False)
        with elevation:
            assert rig.clock.now() < start
            assert elevation.held[0].grant.status.value == "scheduled"
            assert rig.officer_grants() == [], "nothing takes effect before the window"
