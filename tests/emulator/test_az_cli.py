"""The Azure CLI, unchanged, against the emulator as a registered cloud: what a CI job's az script does.

Runs only where an `az` executable exists: `JITPIM_AZ` (read at import, before the ambient-variable scrub),
`az` on PATH, or `.venv-az/bin/az`, which `make bench-az` installs. The CLI runs as a subprocess with its own config
directory, the emulator's CA bundle, MSAL's instance discovery off (a private authority is not in Microsoft's
list) and `scripts/az_localhost` on PYTHONPATH, so `<vault>.vault.localhost` resolves to loopback where the
system resolver does not follow RFC 6761.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

_ROOT = Path(__file__).resolve().parents[2]
_MADE = _ROOT / ".venv-az" / "bin" / "az"  # what `make bench-az` installs
_AZ = os.environ.get("JITPIM_AZ") or shutil.which("az") or (str(_MADE) if _MADE.exists() else None)
_RESOLVER = _ROOT / "scripts" / "az_localhost"
_KV_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"

pytestmark = pytest.mark.skipif(
    _AZ is None, reason="no Azure CLI: set JITPIM_AZ to an az executable or put az on PATH (make bench-az makes one)"
)


class Az:
    """`az` with a private config directory, pointed at one emulator."""

    def __init__(self, info: dict[str, Any], home: Path) -> None:
        self.info = info
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "AZURE_CONFIG_DIR": str(home / "azure"),
            "AZURE_CORE_COLLECT_TELEMETRY": "no",
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "REQUESTS_CA_BUNDLE": info.get("ca_bundle") or info["ca_cert"],  # az talks to nothing else
            "PYTHONPATH": str(_RESOLVER),
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert _AZ is not None
        done = subprocess.run(
            [_AZ, *args, "--only-show-errors"], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"az {' '.join(args[:3])} exited {done.returncode}: {done.stderr[-2000:]}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout or "null")


def _register_and_login(az: Az, info: dict[str, Any], http: requests.Session) -> None:
    base = info["authority"]
    port = base.rsplit(":", 1)[1]
    az.run(
        "cloud",
        "register",
        "-n",
        "jitpim-emulator",
        "--endpoint-active-directory",
        base,
        "--endpoint-resource-manager",
        f"{base}/",
        "--endpoint-active-directory-resource-id",
        f"{base}/",
        "--endpoint-management",
        f"{base}/",
        "--endpoint-microsoft-graph-resource-id",
        f"https://localhost:{port}/graph/",
        "--suffix-keyvault-dns",
        f".{info['keyvault_dns_suffix']}",
        "--skip-endpoint-discovery",
    )
    az.run("cloud", "set", "-n", "jitpim-emulator")
    oidc = info["github_oidc"]
    answer = http.get(
        f"{oidc['request_url']}&audience=api://AzureADTokenExchange",
        headers={"Authorization": f"bearer {oidc['request_token']}"},
    )
    answer.raise_for_status()
    # The ID token goes on az's command line here as it does in the scripts users write; a test process only.
    accounts = az.json(
        "login",
        "--service-principal",
        "-u",
        info["principals"]["ci-app"]["client_id"],
        "--federated-token",
        answer.json()["value"],
        "--tenant",
        info["tenant_id"],
    )
    assert [a["id"] for a in accounts] == [info["subscription_id"]]


def _assignments(emu: Emulator, principal: str, scope: str) -> list[dict[str, Any]]:
    rows = _state(emu)["role_assignments"]
    return [r for r in rows if r["principal_id"] == principal and r["scope"].lower() == scope.lower()]


def _state(emu: Emulator) -> dict[str, Any]:
    info = emu.info
    with requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=30) as answer:
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


def test_the_az_script_of_a_ci_job_runs_unchanged(
    fresh_emu: Emulator, info: dict[str, Any], http: requests.Session, control: Any, tmp_path: Path
) -> None:
    az = Az(info, tmp_path)
    _register_and_login(az, info, http)
    app = info["principals"]["ci-app"]
    vault = info["vaults"]["kv-payments"]["resource_id"]

    created = az.json(
        "role", "assignment", "create", "--assignee", app["client_id"], "--role", "Key Vault Secrets Officer",
        "--scope", vault,
    )  # fmt: skip
    # The appId was resolved through Graph (servicePrincipalNames/any), not taken for an object id.
    assert created["principalId"] == app["object_id"]
    assert created["principalType"] == "ServicePrincipal"
    held = _assignments(fresh_emu, app["object_id"], vault)
    assert [r["role_definition_id"] for r in held if r["role_definition_id"] == _KV_SECRETS_OFFICER]

    listed = az.json("role", "assignment", "list", "--scope", vault, "--assignee", app["client_id"])
    assert "Key Vault Secrets Officer" in {r["roleDefinitionName"] for r in listed}

    # Before RBAC propagation the data plane refuses; the emulated clock moves past it instead of sleeping.
    early = az.run("keyvault", "secret", "set", "--vault-name", "kv-payments", "-n", "az-made", "--value", "v1",
                   check=False)  # fmt: skip
    assert early.returncode != 0 and "Forbidden" in early.stderr
    control("clock/advance", {"seconds": 61})
    secret = az.json("keyvault", "secret", "set", "--vault-name", "kv-payments", "-n", "az-made", "--value", "v1")
    assert secret["id"].startswith(f"{info['vaults']['kv-payments']['dns_url']}/secrets/az-made/")
    assert "value" not in json.dumps(_state(fresh_emu)["keyvault"])
    versions = _state(fresh_emu)["keyvault"]["vaults"]["kv-payments"]["secrets"]["az-made"]["versions"]
    assert [v["version"] for v in versions] == [secret["id"].rsplit("/", 1)[1]]
    assert az.run("keyvault", "secret", "show", "--vault-name", "kv-payments", "-n", "az-made", "--query", "value",
                  "-o", "tsv").stdout.strip() == "v1"  # fmt: skip

    az.run("role", "assignment", "delete", "--assignee", app["client_id"], "--role", "Key Vault Secrets Officer",
           "--scope", vault)  # fmt: skip
    left = _assignments(fresh_emu, app["object_id"], vault)
    assert [r for r in left if r["role_definition_id"] == _KV_SECRETS_OFFICER] == []


def test_az_is_refused_what_the_abac_condition_does_not_delegate(
    fresh_emu: Emulator, info: dict[str, Any], http: requests.Session, tmp_path: Path
) -> None:
    az = Az(info, tmp_path)
    _register_and_login(az, info, http)
    app = info["principals"]["ci-app"]
    vault = info["vaults"]["kv-payments"]["resource_id"]
    before = _state(fresh_emu)["role_assignments"]
    refused = az.run("role", "assignment", "create", "--assignee", app["client_id"], "--role",
                     "Key Vault Administrator", "--scope", vault, check=False)  # fmt: skip
    assert refused.returncode != 0 and "AuthorizationFailed" in refused.stderr
    assert _state(fresh_emu)["role_assignments"] == before


def test_az_rest_reads_graph_pim_with_a_graph_token(
    fresh_emu: Emulator, info: dict[str, Any], http: requests.Session, tmp_path: Path
) -> None:
    az = Az(info, tmp_path)
    _register_and_login(az, info, http)
    port = info["authority"].rsplit(":", 1)[1]
    url = f"https://localhost:{port}/graph/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
    body = az.json("rest", "--method", "get", "--url", url)
    expected = {r["principal_id"] for r in _state(fresh_emu)["directory_role_assignments"]}
    assert body["value"] and {r["principalId"] for r in body["value"]} == expected
    # The same URL under ARM's origin gets ARM's token, which Graph refuses: the audience is checked.
    wrong = az.run("rest", "--method", "get", "--url", url.replace("localhost", "127.0.0.1"), check=False)
    assert wrong.returncode != 0 and "InvalidAuthenticationToken" in wrong.stderr


def test_az_login_identity_inside_jitpim_exec_writes_by_vault_name(
    fresh_emu: Emulator, info: dict[str, Any], http: requests.Session, tmp_path: Path
) -> None:
    """On the emulator as a registered cloud, az asks the child's token endpoint for the emulator's own ARM and Key
    Vault resources, not the public-cloud names a lease serves by default: `--child-audience` adds them."""
    az = Az(info, tmp_path)
    _register_and_login(az, info, http)
    az.run("logout")
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = {**github_job_environ(info, workdir=tmp_path / "job"), **az.env}
    env["PYTHONPATH"] = os.pathsep.join([str(_RESOLVER), *sys.path])
    vault = info["vaults"]["kv-payments"]["resource_id"]
    script = (
        f"set -e; {_AZ} login --identity --allow-no-subscriptions -o none; "
        f"{_AZ} keyvault secret set --vault-name kv-payments -n from-identity --value v1 --query id -o tsv"
    )
    argv = [sys.executable, "-m", "jitpim", "exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer",
            "--scope", vault, "--duration", "10m", "-j", "az inside exec",
            "--child-audience", f"{info['authority']}/", "--child-audience", info["keyvault_resource"],
            "--", "bash", "-c", script]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/secrets/from-identity/" in done.stdout
    assert "from-identity" in _state(fresh_emu)["keyvault"]["vaults"]["kv-payments"]["secrets"]
    assert [r for r in _assignments(fresh_emu, info["principals"]["ci-app"]["object_id"], vault)
            if r["role_definition_id"] == _KV_SECRETS_OFFICER] == []  # fmt: skip
