"""`jitpim setup github` against the emulator, as an administrator: the plan first (nothing changes), then
the estate (app, service principal, federated credentials, Graph permissions, custom role, conditioned rbac
delegation), then idempotence; and the proof: a workflow of the repository signs in with its OIDC token and
runs `jitpim exec` on the vault, `jitpim doctor` finds nothing missing, and the condition refuses any other
role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import app_environ, github_job_environ


def _admin_env(info: dict[str, Any], home: Path, who: str = "admin-app") -> dict[str, str]:
    return app_environ(info, who, home=home)


def _jitpim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jitpim", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _setup(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done = _jitpim(env, "setup", "github", "-o", "json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


@pytest.fixture(name="estate")
def _estate(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    info = fresh_emu.info
    vault = info["vaults"]["kv-payments"]["resource_id"]
    return {"info": info, "emu": fresh_emu, "env": _admin_env(info, tmp_path), "vault": vault, "tmp": tmp_path}


def test_what_if_plans_and_changes_nothing(estate: dict[str, Any]) -> None:
    world = estate["emu"].runtime.world
    with world.lock:
        apps_before = len(world.directory.applications)
        assignments_before = len(world.rbac.assignments)
    code, report, err = _setup(estate["env"], "--repo", "contoso/web", "--vault", estate["vault"], "--what-if")
    assert code == 0, err
    actions = [(s["what"], s["action"]) for s in report["steps"]]
    assert ("app registration", "create") in actions and ("role assignment", "create") in actions
    assert ("federated credential", "create") in actions
    with world.lock:
        assert len(world.directory.applications) == apps_before
        assert len(world.rbac.assignments) == assignments_before


def test_setup_makes_a_working_least_privilege_estate_and_is_idempotent(estate: dict[str, Any]) -> None:
    info, emu = estate["info"], estate["emu"]
    args = ("--repo", "contoso/web", "--vault", estate["vault"], "--environment", "production", "--branch", "main")
    code, report, err = _setup(estate["env"], *args)
    assert code == 0, err
    created = [s for s in report["steps"] if s["action"] == "create"]
    assert created and all(s["done"] for s in created)
    app_id = next(s["app_id"] for s in report["steps"] if s["what"] == "app registration")
    sp_id = next(s["object_id"] for s in report["steps"] if s["what"] == "service principal")
    world = emu.runtime.world
    with world.lock:
        app = next(a for a in world.directory.applications.values() if a.app_id == app_id)
        subjects = sorted(f.subject for f in app.federated_credentials)
        delegation = [a for a in world.rbac.assignments.values() if a.principal_id == sp_id]
    assert subjects == ["repo:contoso/web:environment:production", "repo:contoso/web:ref:refs/heads/main"]
    assert len(delegation) == 1 and delegation[0].condition and sp_id in delegation[0].condition
    # Again: everything is already right.
    code, again, err = _setup(estate["env"], *args)
    assert code == 0, err
    assert again["changes"] == 0 and all(s["action"] == "none" for s in again["steps"])

    # A workflow of contoso/web on main signs in with its OIDC token and holds the vault role for a command.
    with world.lock:
        world.github_claims.update(
            {
                "repository": "contoso/web",
                "repository_owner": "contoso",
                "ref": "refs/heads/main",
                "sub": "repo:contoso/web:ref:refs/heads/main",
            }
        )
    job = github_job_environ(info, workdir=estate["tmp"] / "job", extra={"AZURE_CLIENT_ID": app_id})
    job["PYTHONPATH"] = os.pathsep.join(sys.path)
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    ran = _jitpim(
        job,
        "exec",
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        estate["vault"],
        "--duration",
        "10m",
        "--justification",
        "first deploy",
        "--",
        "true",
    )
    assert ran.returncode == 0, ran.stderr
    # The condition lets it assign that role to itself only: any other role is refused before anything is sent.
    other = _jitpim(
        job,
        "plan",
        "--kind",
        "rbac",
        "--role",
        "Key Vault Administrator",
        "--scope",
        estate["vault"],
        "--duration",
        "10m",
        "--justification",
        "more",
    )
    assert other.returncode == 74, other.stdout + other.stderr
    doctor = _jitpim(job, "doctor", "--kind", "rbac", "--scope", estate["vault"], "-o", "json")
    assert doctor.returncode == 0, doctor.stdout
    assert json.loads(doctor.stdout)["ok"] is True


def test_graph_permissions_and_the_custom_role(estate: dict[str, Any]) -> None:
    info = estate["info"]
    group = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    code, report, err = _setup(
        estate["env"], "--repo", "contoso/ops", "--kind", "entra-role", "--kind", "azure-role", "--scope", group
    )
    assert code == 0, err
    granted = sorted(s["detail"].split(" ")[0] for s in report["steps"] if s["what"] == "Graph permission")
    assert granted == [
        "RoleAssignmentSchedule.ReadWrite.Directory",
        "RoleManagement.Read.Directory",
        "RoleManagementPolicy.Read.Directory",
    ]
    assert any(s["what"] == "custom role" and s["action"] == "create" for s in report["steps"])
    code, again, err = _setup(
        estate["env"], "--repo", "contoso/ops", "--kind", "entra-role", "--kind", "azure-role", "--scope", group
    )
    assert code == 0 and again["changes"] == 0, again


def test_without_admin_rights_setup_stops_cleanly(estate: dict[str, Any]) -> None:
    ci = _admin_env(estate["info"], estate["tmp"], "ci-app")
    code, error, _ = _setup(ci, "--repo", "contoso/web", "--vault", estate["vault"])
    assert code == 78
    assert "setup stopped" in json.dumps(error) and "Application Administrator" in json.dumps(error)


def test_bad_repository_names_are_refused(estate: dict[str, Any]) -> None:
    for bad in ("contoso", "contoso/web/extra", "contoso/ web"):
        code, error, _ = _setup(estate["env"], "--repo", bad, "--vault", estate["vault"])
        assert code == 64 and "OWNER/NAME" in json.dumps(error)
