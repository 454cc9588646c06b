"""`jitpim doctor` against the emulator's estate: the scenario's CI app holds exactly what direct mode needs
on its vault; the admin app holds far more; at a scope without the delegation the rbac rights are missing; in
broker mode the CI identity should hold nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import app_environ


def _doctor(info: dict[str, Any], who: str, home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    app = info["principals"][who]
    env = app_environ(info, who, home=home)
    done = subprocess.run(
        [sys.executable, "-m", "jitpim", "doctor", "-o", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert app["client_secret"] not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def _by_status(report: dict[str, Any], status: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in report["findings"] if f["status"] == status}


@pytest.fixture(name="info")
def _info(emu: Emulator) -> dict[str, Any]:
    return emu.info


def test_the_ci_app_holds_exactly_what_direct_mode_needs_on_its_vault(info: dict[str, Any], tmp_path: Path) -> None:
    vault = info["vaults"]["kv-payments"]["resource_id"]
    code, report = _doctor(info, "ci-app", tmp_path, "--scope", vault)
    assert code == 0, report
    ok = _by_status(report, "ok")
    assert "Microsoft.Authorization/roleAssignments/write" in ok
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in ok
    assert "Microsoft.Authorization/roleAssignmentScheduleRequests/write" in ok
    assert report["ok"] is True and not _by_status(report, "missing") and not _by_status(report, "excessive")


def test_rights_beyond_the_kinds_checked_are_excessive(info: dict[str, Any], tmp_path: Path) -> None:
    vault = info["vaults"]["kv-payments"]["resource_id"]
    code, report = _doctor(info, "ci-app", tmp_path, "--kind", "rbac", "--scope", vault)
    assert code == 1
    excessive = _by_status(report, "excessive")
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in excessive  # only entra-role needs it
    assert excessive["RoleAssignmentSchedule.ReadWrite.Directory"]["fix"].startswith("az ad app permission delete")


def test_an_admin_identity_is_told_what_to_remove(info: dict[str, Any], tmp_path: Path) -> None:
    sub = f"/subscriptions/{info['subscription_id']}"
    code, report = _doctor(info, "admin-app", tmp_path, "--kind", "rbac", "--scope", sub)
    assert code == 1
    excessive = _by_status(report, "excessive")
    assert "RoleManagement.ReadWrite.Directory" in excessive
    unconditioned = [f for name, f in excessive.items() if name.startswith("role assignment")]
    assert unconditioned and "may assign any role to anyone" in unconditioned[0]["detail"]
    assert unconditioned[0]["fix"].startswith("az role assignment delete --ids /subscriptions/")


def test_missing_rights_come_with_the_command_that_grants_them(info: dict[str, Any], tmp_path: Path) -> None:
    group = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    code, report = _doctor(info, "ci-app", tmp_path, "--kind", "rbac", "--scope", group)
    assert code == 1
    missing = _by_status(report, "missing")
    fix = missing["Microsoft.Authorization/roleAssignments/write"]["fix"]
    assert fix.startswith("az role assignment create") and "--condition" in fix and group in fix


def test_in_broker_mode_the_ci_identity_should_hold_nothing(info: dict[str, Any], tmp_path: Path) -> None:
    vault = info["vaults"]["kv-payments"]["resource_id"]
    code, report = _doctor(info, "ci-app", tmp_path, "--as-mode", "broker", "--scope", vault)
    assert code == 1
    excessive = _by_status(report, "excessive")
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in excessive
    assert any(name.startswith("role assignment") for name in excessive)
    assert not _by_status(report, "ok")


def test_the_permissions_page_is_the_table_doctor_enforces() -> None:
    from jitpim.model.permissions import needs

    page = (Path(__file__).parents[2] / "docs" / "reference" / "permissions.md").read_text()
    for kind in ("entra-role", "pim-group", "azure-role", "rbac"):
        for need in needs("direct", kind):
            assert f"| `{kind}` | {need.api} | `{need.name}` |" in page
