"""The reaper: `jitpim reap --source` finds jitpim's grants by their markers at the source and removes expired
ones with no ledger at all (an ephemeral runner), and `reap` never tries to end another principal's lease.
Against the emulator; state is asserted in the emulator afterwards."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.audit.ledger import Ledger
from jitpim.cli import cli
from jitpim.cloud import resolve_cloud
from jitpim.emulator import Emulator
from jitpim.lifecycle import Elevation, LifecycleOptions, Session, Timeline, make_plan, reap, reap_source
from jitpim.model import Mode, RunContext, Target, TargetKind
from jitpim.providers import parse_markers
from jitpim.testing import EmulatedClock, github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


@pytest.fixture(name="env")
def _env(fresh_emu: Emulator, tmp_path: Path) -> dict[str, str]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    return github_job_environ(fresh_emu.info, workdir=tmp_path / "runner-1")


def _officers(emu: Emulator) -> list[Any]:
    world = emu.runtime.world
    ci = emu.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return [
            a for a in world.rbac.assignments.values() if a.principal_id == ci and a.role_definition_id == OFFICER_ID
        ]


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _elevate(env: dict[str, str], info: dict[str, Any], duration: str = "20m") -> str:
    vault = info["vaults"]["kv-payments"]["resource_id"]
    result = _run(
        env,
        "elevate",
        *("--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", vault),
        *("--duration", duration, "-j", "deploy", "-o", "json", "-q"),
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["leases"][0]["lease_id"])


def test_reap_source_keeps_a_grant_whose_holder_is_still_within_its_end(
    fresh_emu: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """A new runner (no ledger) finds the assignment by its marker and keeps it while the marker holds it."""
    lease = _elevate(env, fresh_emu.info)
    (assignment,) = _officers(fresh_emu)
    assert [m.lease_id for m in parse_markers(assignment.description)] == [lease]
    fresh = github_job_environ(fresh_emu.info, workdir=tmp_path / "runner-2", run_id="9100200301")
    vault = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = _run(fresh, "reap", "--source", "--scope", vault, "-o", "json", "-q")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ledger"] is False
    assert [(f["action"], f["markers"][0]["lease_id"]) for f in report["source"]] == [("kept", lease)]
    assert len(_officers(fresh_emu)) == 1
    assert not Path(fresh["JITPIM_LEDGER"]).exists()  # it never needed (or created) a ledger
    assert _run(env, "release", lease, "-q").exit_code == 0
    assert _officers(fresh_emu) == []


def test_reap_source_removes_an_expired_grant_with_no_ledger(fresh_emu: Emulator, tmp_path: Path) -> None:
    """Issue 9 item 6: the runner that elevated is gone with its ledger; the plain RBAC assignment (no expiry
    at the source) is removed once its marker's end has passed, and not before. Emulated time throughout."""
    info = fresh_emu.info
    environ = github_job_environ(info, workdir=tmp_path)
    clock = EmulatedClock(fresh_emu)
    vault = info["vaults"]["kv-payments"]["resource_id"]
    target = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=vault, duration="20m")
    options = LifecycleOptions(poll_initial=1.0, poll_maximum=5.0)
    session = Session(resolve_cloud(environ=environ), Mode.DIRECT, clock, environ=environ, sleep=clock.sleep)
    with session, Ledger.open(tmp_path / "lost-with-the-vm.sqlite3", clock=clock.now) as ledger:
        plan = make_plan([target], contexts=session.context, options=options, clock=clock)
        with Elevation(plan, ledger, RunContext.from_environ(environ), clock, options, Timeline()) as elevation:
            elevation.detach()  # `jitpim elevate`: the lease outlives the step, then the VM is gone
    assert len(_officers(fresh_emu)) == 1
    with Session(resolve_cloud(environ=environ), Mode.DIRECT, clock, environ=environ, sleep=clock.sleep) as session:
        early = reap_source(session.context, scopes=[vault], kinds=[TargetKind.RBAC], clock=clock, reporter=Timeline())
        assert [f.action for f in early.findings] == ["kept"]
        assert len(_officers(fresh_emu)) == 1
        fresh_emu.advance(21 * 60)
        late = reap_source(session.context, scopes=[vault], kinds=[TargetKind.RBAC], clock=clock, reporter=Timeline())
    assert [f.action for f in late.findings] == ["removed"]
    assert late.errors == []
    assert _officers(fresh_emu) == []


def test_reap_source_removes_a_grant_whose_lease_the_ledger_knows_is_closed(
    fresh_emu: Emulator, env: dict[str, str]
) -> None:
    """With a ledger, a marker whose lease is closed no longer holds the grant, whatever its end says."""
    lease = _elevate(env, fresh_emu.info)
    with Ledger.open(env["JITPIM_LEDGER"]) as ledger:
        ledger.transition(lease, "releasing", "lease.releasing", {})
        ledger.transition(lease, "release_failed", "lease.release_failed", {"detail": "test"})
    vault = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = _run(env, "reap", "--source", "--scope", vault, "-o", "json", "-q")
    assert result.exit_code == 0, result.output
    assert [f["action"] for f in json.loads(result.stdout)["source"]] == ["removed"]
    assert _officers(fresh_emu) == []


def test_reap_source_dry_run_changes_nothing(fresh_emu: Emulator, env: dict[str, str]) -> None:
    lease = _elevate(env, fresh_emu.info)
    with Ledger.open(env["JITPIM_LEDGER"]) as ledger:
        ledger.transition(lease, "releasing", "lease.releasing", {})
        ledger.transition(lease, "release_failed", "lease.release_failed", {"detail": "test"})
    vault = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = _run(env, "reap", "--source", "--dry-run", "--scope", vault, "-o", "json", "-q")
    assert [f["action"] for f in json.loads(result.stdout)["source"]] == ["would_remove"]
    assert len(_officers(fresh_emu)) == 1
    assert _run(env, "reap", "--source", "--scope", vault, "-q").exit_code == 0
    assert _officers(fresh_emu) == []


def test_reap_source_leaves_unmarked_assignments_alone(fresh_emu: Emulator, env: dict[str, str]) -> None:
    """The standing RBAC Administrator assignment of ci-app on the vault carries no marker: never touched."""
    world = fresh_emu.runtime.world
    with world.lock:
        before = sorted(world.rbac.assignments)
    vault = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = _run(env, "reap", "--source", "--scope", vault, "-o", "json", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == []
    with world.lock:
        assert sorted(world.rbac.assignments) == before


def test_reap_source_reports_a_scope_it_cannot_read(fresh_emu: Emulator, env: dict[str, str]) -> None:
    sub = f"/subscriptions/{fresh_emu.info['subscription_id']}"
    result = CliRunner().invoke(cli, ["reap", "--source", "--kind", "rbac", "--scope", sub, "-q"], env=env)
    assert result.exit_code == 78, result.output
    assert "cannot list" in result.output


def test_reap_does_not_try_to_end_another_principals_lease(fresh_emu: Emulator, tmp_path: Path) -> None:
    """Issue 9 item 6: ci-app's reap found alice's orphaned activation in a shared ledger and tried to remove it
    (403, exit 85). It is reported as someone else's and left alone."""
    info = fresh_emu.info
    environ = github_job_environ(info, workdir=tmp_path)
    clock = EmulatedClock(fresh_emu)
    alice = info["principals"]["alice"]["object_id"]
    with Ledger.open(tmp_path / "shared.sqlite3", clock=clock.now) as ledger:
        ledger.begin(
            {
                "lease_id": "gh-1-1/azure-role/reader",
                "state": "requested",
                "kind": "azure-role",
                "role": "Reader",
                "scope": f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments",
                "principal_id": alice,
                "mode": "self",
                "owner_pid": 2**22 + 7,  # no such process
                "owner_host": socket.gethostname(),
                "data": {"held_by": "exec"},
            }
        )
        ledger.transition("gh-1-1/azure-role/reader", "granted", "lease.granted", {})
        session = Session(resolve_cloud(environ=environ), Mode.DIRECT, clock, environ=environ, sleep=clock.sleep)
        with session:
            results = reap(ledger, session.context, clock=clock, options=LifecycleOptions(), reporter=Timeline())
        assert [(o.record["lease_id"], r.outcome if r else None) for o, r in results] == [
            ("gh-1-1/azure-role/reader", "skipped_not_ours")
        ]
        assert ledger.get("gh-1-1/azure-role/reader")["state"] == "granted"


@pytest.mark.parametrize("kind", ["entra-role", "azure-role"])
def test_reap_source_ends_a_pim_grant_whose_lease_was_left_to_expire(
    fresh_emu: Emulator, tmp_path: Path, kind: str
) -> None:
    """PIM kinds: a lease whose removal PIM refused in its first five minutes is left to expire (the ledger keeps
    it `releasing`); `reap --source` later finds the grant by the marker in its request's justification and ends
    it at the source, through the same provider as the grant."""
    info = fresh_emu.info
    environ = github_job_environ(info, workdir=tmp_path)
    clock = EmulatedClock(fresh_emu)
    rg = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    target = (
        Target.from_flags(kind=kind, role="Application Administrator", duration="1h", justification="ops")
        if kind == "entra-role"
        else Target.from_flags(kind=kind, role="Reader", scope=rg, duration="1h", justification="ops")
    )
    options = LifecycleOptions(poll_initial=1.0, poll_maximum=5.0, early_release="expire")
    session = Session(resolve_cloud(environ=environ), Mode.DIRECT, clock, environ=environ, sleep=clock.sleep)
    with session, Ledger.open(tmp_path / "ledger.sqlite3", clock=clock.now) as ledger:
        plan = make_plan([target], contexts=session.context, options=options, clock=clock)
        with Elevation(plan, ledger, RunContext.from_environ(environ), clock, options, Timeline()) as elevation:
            lease = elevation.held[0].lease_id
        assert [r.outcome for r in elevation.releases] == ["left_to_expire"]
        fresh_emu.advance(6 * 60)
        scopes = [rg] if kind == "azure-role" else []
        kinds = [TargetKind(kind)]
        report = reap_source(
            session.context, scopes=scopes, kinds=kinds, clock=clock, reporter=Timeline(), ledger=ledger
        )
        assert report.errors == []
        assert [(f.action, [m.lease_id for m in f.found.markers]) for f in report.findings] == [("removed", [lease])]
        again = reap_source(
            session.context, scopes=scopes, kinds=kinds, clock=clock, reporter=Timeline(), ledger=ledger
        )
        assert again.findings == [] and again.errors == []


def test_reap_source_leaves_another_principals_marked_grant_alone(fresh_emu: Emulator, env: dict[str, str]) -> None:
    """A jitpim-marked assignment of another principal (alice's, expired) is reported, never removed by ci-app."""
    from datetime import UTC, datetime

    from jitpim.providers import GrantMarker
    from jitpim.testing import ProviderContexts

    info = fresh_emu.info
    vault = info["vaults"]["kv-payments"]["resource_id"]
    alice = info["principals"]["alice"]["object_id"]
    ended = GrantMarker("gh-5-1/rbac/alice", alice, datetime(2020, 1, 1, tzinfo=UTC))
    name = "5c1d1a2e-0b8e-4b61-9d2f-7a0e3c9b8f11"
    path = f"{vault}/providers/Microsoft.Authorization/roleAssignments/{name}"
    contexts = ProviderContexts(fresh_emu)
    try:
        admin = contexts("admin-app")
        body = {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{OFFICER_ID}",
                "principalId": alice,
                "principalType": "User",
                "description": f"jitpim just-in-time access {ended.text()}",
            }
        }
        admin.arm.put(path, body, params={"api-version": "2022-04-01"}, expected=(201,))
        result = _run(env, "reap", "--source", "--scope", vault, "-o", "json", "-q")
        assert result.exit_code == 0, result.output
        assert [f["action"] for f in json.loads(result.stdout)["source"]] == ["skipped_not_ours"]
        world = fresh_emu.runtime.world
        with world.lock:
            assert name in world.rbac.assignments
        admin.arm.delete(path, params={"api-version": "2022-04-01"})
    finally:
        contexts.close()
