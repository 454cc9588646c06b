"""`jitpim emulator serve|env|advance|fault|state|reset` as a user drives them from a shell."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

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
    assert set(info["github_oidc"]) >= {"request_url", "issuer"}
    info_file = served["state"] / "info.json"
    assert info["info_file"] == str(info_file)
    assert oct(info_file.stat().st_mode & 0o777) == "0o600"


def test_ready_line_prints_no_credential_and_the_info_file_holds_them(served: dict[str, Any]) -> None:
    """The terminal (or a CI log capturing it) never sees a secret; the 0600 info file has every one."""
    line = json.dumps(served["info"])
    full = json.loads((served["state"] / "info.json").read_text())
    secrets = [p["client_secret"] for p in full["principals"].values() if p["type"] == "application"]
    secrets += [p["password"] for p in full["principals"].values() if p["type"] == "user"]
    secrets.append(full["github_oidc"]["request_token"])
    assert len(secrets) >= 6 and all(secrets)
    for secret in secrets:
        assert secret not in line
    assert "client_secret" not in line and "password" not in line and "request_token" not in line
    assert full["principals"]["ci-app"]["client_id"] == served["info"]["principals"]["ci-app"]["client_id"]


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


def _exports(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return {
        name: shlex.split(value)[0]
        for name, value in (
            line.removeprefix("export ").split("=", 1)
            for line in result.stdout.splitlines()
            if line.startswith("export ")
        )
    }


def _client_token(info: dict[str, Any], client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "https://management.azure.com/.default",
        },
        verify=info["ca_cert"],
        timeout=10,
    )


def test_reset_rewrites_the_info_file_so_env_exports_a_working_secret(served: dict[str, Any]) -> None:
    """A reset regenerates the seeded apps' secrets; the info file follows, so `env` never exports a dead one."""
    info = served["info"]
    before = _exports(_run(served, "env", "--as", "ci-app"))
    assert _client_token(info, before["AZURE_CLIENT_ID"], before["AZURE_CLIENT_SECRET"]).status_code == 200
    assert _run(served, "reset").returncode == 0
    after = _exports(_run(served, "env", "--as", "ci-app"))
    assert after["AZURE_CLIENT_SECRET"] != before["AZURE_CLIENT_SECRET"]
    response = _client_token(info, after["AZURE_CLIENT_ID"], after["AZURE_CLIENT_SECRET"])
    assert response.status_code == 200, response.text
    assert oct((served["state"] / "info.json").stat().st_mode & 0o777) == "0o600"
    assert not list(served["state"].glob(".*.partial"))


def test_a_second_serve_on_the_same_state_folder_fails_and_the_first_keeps_serving(served: dict[str, Any]) -> None:
    info_file = served["state"] / "info.json"
    before = info_file.read_text()
    ca_before = Path(served["info"]["ca_cert"]).read_bytes()
    second = subprocess.run(
        [*JITPIM, "serve", "--state-dir", str(served["state"])], capture_output=True, text=True, timeout=60, check=False
    )
    assert second.returncode == 71, second.stderr
    assert "already serving the state folder" in second.stderr
    assert str(served["proc"].pid) in second.stderr
    assert second.stdout == ""
    assert info_file.read_text() == before
    assert Path(served["info"]["ca_cert"]).read_bytes() == ca_before
    assert served["proc"].poll() is None
    assert _run(served, "advance", "1").returncode == 0


def test_the_state_folder_is_free_again_after_the_first_stops(served: dict[str, Any], tmp_path: Path) -> None:
    proc = served["proc"]
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    again = subprocess.Popen(
        [*JITPIM, "serve", "--state-dir", str(served["state"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert again.stdout is not None
        assert json.loads(again.stdout.readline())["ready"] is True
    finally:
        again.terminate()
        again.wait(timeout=10)


@pytest.mark.parametrize("seconds", ["nan", "inf", "-inf", "1e400", "-1", "ten", "999999999999"])
def test_advance_refuses_what_is_not_a_finite_forward_step(served: dict[str, Any], seconds: str) -> None:
    result = subprocess.run(
        [*JITPIM, "advance", "--state-dir", str(served["state"]), "--", seconds],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 64, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert "finite number of seconds" in result.stderr or "not a number of seconds" in result.stderr
    state = json.loads(_run(served, "state").stdout)
    assert state["clock_offset_seconds"] == 0


@pytest.mark.parametrize("folder", ["/dev/null", "/dev/null/state"])
def test_serve_on_a_state_folder_that_cannot_be_made_is_a_config_error(folder: str) -> None:
    from click.testing import CliRunner

    from jitpim.cli import cli

    result = CliRunner().invoke(cli, ["emulator", "serve", "--state-dir", folder], catch_exceptions=False)
    assert result.exit_code == 71, result.output
    assert "Traceback" not in result.output and "state folder" in result.stderr
