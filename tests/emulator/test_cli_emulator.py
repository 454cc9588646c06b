"""`jitpim emulator serve|env|advance|fault|state|reset` as a user drives them from a shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

JITPIM = [sys.executable, "-m", "jitpim", "emulator"]


@pytest.fixture(name="served")
def _served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*JITPIM, "serve", "--state-dir", str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    info = json.loads(line)
    try:
        yield {"proc": proc, "info": info, "state": state}
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def _run(served: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JITPIM, *args, "--state-dir", str(served["state"])], capture_output=True, text=True, timeout=60, check=False
    )


def test_ready_line_has_every_documented_field(served: dict[str, Any]) -> None:
    info = served["info"]
    for field in (
        "ca_cert",
        "tenant_id",
        "authority",
        "graph",
        "arm",
        "subscription_id",
        "vaults",
        "github_oidc",
        "control",
        "principals",
    ):
        assert field in info, field
    assert {"ci-app", "admin-app", "alice"} <= set(info["principals"])
    assert info["principals"]["ci-app"]["client_secret"]
    assert set(info["github_oidc"]) >= {"request_url", "request_token", "issuer"}
    info_file = served["state"] / "info.json"
    assert oct(info_file.stat().st_mode & 0o777) == "0o600"


def test_env_exports_what_sdk_code_needs(served: dict[str, Any]) -> None:
    out = _run(served, "env", "--as", "ci-app")
    assert out.returncode == 0, out.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export ")
    )
    assert exports["AZURE_AUTHORITY_HOST"] == served["info"]["authority"]
    assert exports["JITPIM_CLOUD"] == "emulator"
    assert exports["AZURE_CLIENT_ID"] == served["info"]["principals"]["ci-app"]["client_id"]
    github = _run(served, "env", "--as", "ci-app", "--github")
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in github.stdout and "AZURE_CLIENT_SECRET=" not in github.stdout
    user = _run(served, "env", "--as", "alice")
    assert "AZURE_USERNAME=alice@contoso.onmicrosoft.com" in user.stdout
    unknown = _run(served, "env", "--as", "mallory")
    assert unknown.returncode == 71 and "Known principals" in unknown.stderr


def test_clock_faults_state_and_reset(served: dict[str, Any]) -> None:
    advanced = _run(served, "advance", "301")
    assert advanced.returncode == 0 and "301s ahead" in advanced.stdout
    fault = _run(served, "fault", "throttle", "--path", "oauth2", "--count", "2", "--retry-after", "3")
    assert json.loads(fault.stdout)["remaining"] == 2
    state = json.loads(_run(served, "state").stdout)
    assert state["clock_offset_seconds"] == 301 and len(state["faults"]) == 1
    assert _run(served, "fault", "clear").returncode == 0
    assert _run(served, "reset").returncode == 0
    state = json.loads(_run(served, "state").stdout)
    assert state["clock_offset_seconds"] == 0 and state["faults"] == []


def test_sigterm_stops_cleanly_and_removes_info(served: dict[str, Any]) -> None:
    proc = served["proc"]
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert not (served["state"] / "info.json").exists()
    gone = _run(served, "advance", "1")
    assert gone.returncode == 71 and "no running emulator" in gone.stderr


def test_workload_identity_env_lets_unmodified_sdk_code_authenticate(served: dict[str, Any]) -> None:
    """After `eval "$(jitpim emulator env --as ci-app --workload-identity)"`, plain `DefaultAzureCredential()`
    (no arguments, no code change) obtains a token for the CI app from the emulator."""
    out = _run(served, "env", "--as", "ci-app", "--workload-identity")
    assert out.returncode == 0, out.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export ")
    )
    assert "AZURE_CLIENT_SECRET" not in exports
    token_file = Path(exports["AZURE_FEDERATED_TOKEN_FILE"])
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "REQUESTS_CA", "SSL_CERT", "CURL_CA"))}
    env.update({k: v.strip("'") for k, v in exports.items()})
    code = (
        "import jwt; from azure.identity import DefaultAzureCredential; "
        "t = DefaultAzureCredential().get_token('https://management.azure.com/.default').token; "
        "print(jwt.decode(t, options={'verify_signature': False})['oid'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == served["info"]["principals"]["ci-app"]["object_id"]
