"""The child of `jitpim exec` gets only its lease (issue 9 item 7): no CI credential in its environment, tokens
for the lease's audiences from a loopback managed-identity endpoint, nothing after the lease.

`jitpim exec` runs as a user runs it (a separate process, a GitHub Actions job authenticating with OIDC) against
the emulator over HTTPS; the child is unmodified `DefaultAzureCredential()` code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit import Ledger
from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

OFFICER = "Key Vault Secrets Officer"

# The job's privileged work: Microsoft's own clients, with the credential created exactly as their docs say.
CHILD = textwrap.dedent(
    """
    import json, os, sys
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
    out = {"env": sorted(k for k in os.environ if k.startswith(("ACTIONS_ID_TOKEN", "AZURE_", "IDENTITY_", "ARM_")))}
    credential = DefaultAzureCredential()
    client = SecretClient(os.environ["VAULT_URL"], credential, verify_challenge_resource=False,
                          connection_verify=os.environ["JITPIM_CA_BUNDLE"])
    out["version"] = client.set_secret("db-password", sys.argv[1]).properties.version
    for name, scope in (("graph", "https://graph.microsoft.com/.default"),
                        ("arm", "https://management.azure.com/.default"),
                        ("arm_legacy", "https://management.core.windows.net//.default")):
        try:
            credential.get_token(scope)
            out[name] = "issued"
        except Exception as exc:
            out[name] = str(exc)
    # Kept for the test only: the endpoint and its secret, to try them after the lease and scan for the secret.
    with open(sys.argv[2], "w") as handle:
        json.dump({"endpoint": os.environ.get("IDENTITY_ENDPOINT"), "secret": os.environ.get("IDENTITY_HEADER")},
                  handle)
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
        out["parent_cmdline"] = handle.read().decode(errors="replace")
    print(json.dumps(out))
    """
)


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    info = fresh_emu.info
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    env["VAULT_URL"] = info["vaults"]["kv-payments"]["url"]
    # A secret in the job's environment that the child must not inherit.
    env["AZURE_CLIENT_SECRET"] = info["principals"]["ci-app"]["client_secret"]
    return {"info": info, "env": env, "tmp": tmp_path, "emu": fresh_emu}


def _exec(job: dict[str, Any], *flags: str, child: str = CHILD) -> tuple[subprocess.CompletedProcess[str], Path]:
    keep = job["tmp"] / "endpoint.json"
    args = [
        sys.executable,
        "-m",
        "jitpim",
        "exec",
        "--kind",
        "rbac",
        "--role",
        OFFICER,
        "--scope",
        job["info"]["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "10m",
        "-j",
        "rotate the db password",
        *flags,
        "--",
        sys.executable,
        "-c",
        child,
        "v-inside",
        str(keep),
    ]
    result = subprocess.run(args, env=job["env"], capture_output=True, text=True, timeout=120, check=False)
    return result, keep


def _child_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _vault_value(emu: Emulator, name: str) -> str:
    """The current value of a secret of kv-payments, read from the emulator's state."""
    world = emu.runtime.world
    with world.lock:
        vault = world.services()["keyvault"].vault("kv-payments")
        return str(vault.secret(name).latest.value)


def test_default_credential_writes_the_secret_and_nothing_else(job: dict[str, Any]) -> None:
    result, keep = _exec(job)
    assert result.returncode == 0, result.stderr
    report = _child_report(result)
    # The secret was written with the lease's Key Vault token.
    assert report["version"]
    assert _vault_value(job["emu"], "db-password") == "v-inside"
    # Not the CI's credential: no OIDC request pair, no client secret; the lease's endpoint instead.
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" not in report["env"]
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" not in report["env"]
    assert "AZURE_CLIENT_SECRET" not in report["env"]
    assert {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"} <= set(report["env"])
    # A Key Vault lease gives neither Graph nor ARM tokens (with them, the child could grant itself more).
    for api in ("graph", "arm", "arm_legacy"):
        assert "does not cover" in report[api], report[api]
    # After the lease, the endpoint is gone.
    kept = json.loads(keep.read_text())
    request = urllib.request.Request(
        f"{kept['endpoint']}?api-version=2019-08-01&resource=https://vault.azure.net",
        headers={"X-IDENTITY-HEADER": kept["secret"]},
    )
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(request, timeout=5)
    # The per-run secret is in no argument, no output and no record.
    secret = kept["secret"]
    assert secret not in report["parent_cmdline"]
    assert secret not in result.stdout.replace(json.dumps(secret), "") and secret not in result.stderr
    assert secret.encode() not in Path(job["env"]["JITPIM_LEDGER"]).read_bytes()
    # The ledger says what the child was given and what it was refused.
    with Ledger(Path(job["env"]["JITPIM_LEDGER"])) as ledger:
        finished = [e for e in ledger.events() if e["type"] == "command.finished"]
    given = finished[0]["body"]["child_credentials"]
    assert given["pass_credentials"] is False
    assert "AZURE_CLIENT_SECRET" in given["withheld"] and "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in given["withheld"]
    assert given["endpoint"]["served"] == {"https://vault.azure.net": 1}
    assert given["endpoint"]["refused"]["https://graph.microsoft.com"] >= 1


def test_child_audience_adds_arm(job: dict[str, Any]) -> None:
    result, _ = _exec(job, "--child-audience", "arm")
    assert result.returncode == 0, result.stderr
    report = _child_report(result)
    assert report["arm"] == "issued" and report["arm_legacy"] == "issued"
    assert "does not cover" in report["graph"]


def test_pass_credentials_hands_down_the_ci_credential(job: dict[str, Any]) -> None:
    show_env = "import json, os; print(json.dumps({'env': sorted(os.environ)}))"
    result, _ = _exec(job, "--pass-credentials", child=show_env)
    assert result.returncode == 0, result.stderr
    report = _child_report(result)
    assert {"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_CLIENT_SECRET"} <= set(
        report["env"]
    )
    assert "IDENTITY_ENDPOINT" not in report["env"]
    assert "--pass-credentials" in result.stderr  # the risk is said in the job log


def test_a_bad_child_audience_is_refused_before_anything_is_granted(job: dict[str, Any]) -> None:
    result, _ = _exec(job, "--child-audience", "everything")
    assert result.returncode == 64, result.stderr
    assert "--child-audience" in result.stderr
    with Ledger(Path(job["env"]["JITPIM_LEDGER"])) as ledger:
        assert ledger.list() == []
