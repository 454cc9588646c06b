"""`az login --identity` inside `jitpim exec`, against the emulator: the Azure CLI (MSAL's managed-identity
client) signs in through the lease's endpoint. Runs only where the Azure CLI is installed (`az` on PATH, or
JITPIM_TEST_AZ naming it); jitpim does not depend on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

AZ = os.environ.get("JITPIM_TEST_AZ") or shutil.which("az")
pytestmark = pytest.mark.skipif(AZ is None, reason="the Azure CLI is not installed (set JITPIM_TEST_AZ)")


def _az_env(info: dict[str, Any], config: Path) -> dict[str, str]:
    return {
        "AZURE_CONFIG_DIR": str(config),
        "REQUESTS_CA_BUNDLE": info["ca_cert"],  # the Azure CLI trusts the emulator's CA through requests
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
    }


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    assert AZ is not None
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    info = fresh_emu.info
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    config = tmp_path / "azure"
    az_env = {**env, **_az_env(info, config)}
    base = info["authority"]
    # The emulator as an Azure CLI cloud: ARM and the authority at the emulator, the real token audiences.
    for args in (
        [
            "cloud",
            "register",
            "-n",
            "JitpimEmulator",
            "--endpoint-resource-manager",
            base + "/",
            "--endpoint-active-directory",
            base,
            "--endpoint-active-directory-resource-id",
            "https://management.core.windows.net/",
            "--endpoint-microsoft-graph-resource-id",
            "https://graph.microsoft.com/",
            "--suffix-keyvault-dns",
            ".vault.azure.net",
            "--skip-endpoint-discovery",
        ],
        ["cloud", "set", "-n", "JitpimEmulator"],
    ):
        done = subprocess.run([AZ, *args], env=az_env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    return {"info": info, "env": {**env, **_az_env(info, config)}}


def _exec(job: dict[str, Any], script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable,
        "-m",
        "jitpim",
        "exec",
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        job["info"]["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "10m",
        "-j",
        "az inside exec",
        *flags,
        "--",
        "bash",
        "-c",
        script,
    ]
    return subprocess.run(args, env=job["env"], capture_output=True, text=True, timeout=600, check=False)


def test_az_login_identity_works_when_the_lease_includes_arm(job: dict[str, Any]) -> None:
    script = (
        f"set -e; {AZ} login --identity --allow-no-subscriptions -o none; "
        f"{AZ} account get-access-token --resource https://vault.azure.net --query tokenType -o tsv; "
        f"{AZ} account get-access-token --resource https://graph.microsoft.com -o none || echo graph-refused"
    )
    result = _exec(job, script, "--child-audience", "arm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:1] == ["Bearer"]
    assert "graph-refused" in result.stdout


def test_az_login_identity_is_refused_arm_for_a_key_vault_lease(job: dict[str, Any]) -> None:
    # `az login --identity` asks for an ARM token first; a Key Vault data role does not give one.
    result = _exec(job, f"{AZ} login --identity --allow-no-subscriptions -o none")
    assert result.returncode == 1
    assert "does not cover tokens for https://management.core.windows.net/" in result.stdout + result.stderr
