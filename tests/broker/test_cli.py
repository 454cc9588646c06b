"""The command lines: `jitpim broker serve` (ready line, refusal on a bad policy), `check-policy`,
`jitpim approvals`, and a GitHub job using `--mode broker` with elevate and release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.testing import github_job_environ

from .conftest import AUDIENCE, POLICIES, BrokerWorld
from .test_flow import _job_can_write, jitpim_assignments


def _config_file(info: dict[str, Any], tmp_path: Path, policies: str = POLICIES) -> Path:
    (tmp_path / "policies").mkdir(parents=True, exist_ok=True)
    (tmp_path / "policies" / "main.cedar").write_text(policies)
    config = {
        "audience": AUDIENCE,
        "policies": ["policies"],
        "github": {"jwks_uri": info["github_oidc"]["jwks_uri"]},
        "entra": {"tenant_id": info["tenant_id"], "audiences": [info["principals"]["admin-app"]["client_id"]]},
        "repositories": {"contoso/payments": {"principal_id": info["principals"]["ci-app"]["object_id"]}},
        "approver_groups": {"payments-leads": [{"upn": "bob@contoso.onmicrosoft.com"}]},
    }
    path = tmp_path / "broker.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _broker_env(info: dict[str, Any]) -> dict[str, str]:
    admin = info["principals"]["admin-app"]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AZURE_CLIENT_ID": admin["client_id"],
        "AZURE_CLIENT_SECRET": admin["client_secret"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
    }


def test_serve_prints_a_ready_line_and_stops_on_sigterm(fresh_emu: Any, tmp_path: Path) -> None:
    info = fresh_emu.info
    config = _config_file(info, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "jitpim", "broker", "serve", "--config", str(config)],
        env=_broker_env(info),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["ready"] is True
        assert ready["url"].startswith("http://127.0.0.1:")
        assert ready["audience"] == AUDIENCE
        assert ready["policies"] == ["main-auto", "no-global-admin", "pr-needs-approval"]
        import requests

        assert requests.get(f"{ready['url']}/healthz", timeout=10).json()["status"] == "ok"
        # entra: is configured, so the read-only dashboard is mounted, behind the broker's sign-in
        assert ready["dashboard_url"] == f"{ready['url']}/dashboard/"
        page = requests.get(ready["dashboard_url"], allow_redirects=False, timeout=10)
        assert page.status_code == 303 and page.headers["location"] == "/dashboard/signin"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_serve_refuses_to_start_on_a_policy_syntax_error(fresh_emu: Any, tmp_path: Path) -> None:
    config = _config_file(
        fresh_emu.info, tmp_path, policies='permit(principal, action == Jitpim::Action::"request" resource);'
    )
    done = subprocess.run(
        [sys.executable, "-m", "jitpim", "broker", "serve", "--config", str(config)],
        env=_broker_env(fresh_emu.info),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 71
    assert done.stdout == ""
    assert "main.cedar: Cedar syntax error" in done.stderr
    assert "hint:" in done.stderr


def test_check_policy_lists_policies(tmp_path: Path) -> None:
    (tmp_path / "p.cedar").write_text(POLICIES)
    result = CliRunner().invoke(cli, ["broker", "check-policy", str(tmp_path), "-o", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    by_id = {p["id"]: p for p in body["policies"]}
    assert by_id["pr-needs-approval"]["approval"] == {"count": 1, "group": "payments-leads", "timeout": "PT30M"}
    assert by_id["no-global-admin"]["effect"] == "forbid"
    bad = CliRunner().invoke(cli, ["broker", "check-policy", str(tmp_path / "missing.cedar")])
    assert bad.exit_code == 71


def test_job_in_broker_mode_elevates_and_releases(bw: BrokerWorld, tmp_path: Path) -> None:
    env = github_job_environ(
        bw.info,
        workdir=tmp_path / "job",
        extra={"JITPIM_BROKER_URL": bw.url, "JITPIM_BROKER_AUDIENCE": AUDIENCE, "JITPIM_MODE": "broker"},
    )
    vault = bw.info["vaults"]["kv-payments"]["resource_id"]
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["elevate", "--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", vault, "--duration", "10m",
         "-j", "rotate", "-o", "json"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    requests_ = json.loads(result.output)["requests"]
    assert [r["state"] for r in requests_] == ["granted"]
    assert requests_[0]["decision"]["policy_id"] == "main-auto"
    bw.emu.advance(5)
    assert _job_can_write(bw)

    released = runner.invoke(cli, ["release", "--run", "gh-9100200300-1", "-o", "json"], env=env)
    assert released.exit_code == 0, released.output
    assert json.loads(released.output)["releases"][0]["state"] == "released"
    assert jitpim_assignments(bw) == []


def test_job_in_broker_mode_refused_by_policy_exits_73(bw: BrokerWorld, tmp_path: Path) -> None:
    env = github_job_environ(
        bw.info,
        workdir=tmp_path / "job",
        extra={"JITPIM_BROKER_URL": bw.url, "JITPIM_BROKER_AUDIENCE": AUDIENCE},
    )
    result = CliRunner().invoke(
        cli,
        ["exec", "--mode", "broker", "--kind", "entra-role", "--role", "Global Administrator", "--duration", "1h",
         "-j", "x", "--", "true"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 73, result.output
    assert "no-global-admin" in result.output


def test_exec_in_broker_mode_passes_the_exit_code_and_releases(bw: BrokerWorld, tmp_path: Path) -> None:
    env = github_job_environ(
        bw.info, workdir=tmp_path / "job", extra={"JITPIM_BROKER_URL": bw.url, "JITPIM_MODE": "broker"}
    )
    env["JITPIM_BROKER_AUDIENCE"] = AUDIENCE
    vault = bw.info["vaults"]["kv-payments"]["resource_id"]
    result = CliRunner().invoke(
        cli,
        ["exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", vault, "--duration", "10m",
         "-j", "x", "--", sys.executable, "-c", "import os, sys; sys.exit(3 if os.environ['JITPIM_LEASES'] else 1)"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert jitpim_assignments(bw) == []
    states = [r.state.value for r in bw.broker.store.list_requests()]
    assert states == ["released"]


def test_approvals_cli(bw: BrokerWorld, monkeypatch: Any) -> None:
    token = bw.job_token(ref="refs/pull/3/merge", event_name="pull_request")
    request_id = bw.submit(token, client_request_id="pr-3").json()["request_id"]
    env = {"JITPIM_BROKER_URL": bw.url, "JITPIM_APPROVER_TOKEN": bw.approver_token("bob")}
    runner = CliRunner()
    listed = runner.invoke(cli, ["approvals", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert request_id in listed.output and "pr-needs-approval" in listed.output
    shown = runner.invoke(cli, ["approvals", "show", request_id], env=env)
    assert "principal.pull_request = True" in shown.output
    no_reason = runner.invoke(cli, ["approvals", "approve", request_id], env=env)
    assert no_reason.exit_code == 64
    approved = runner.invoke(cli, ["approvals", "approve", request_id, "--reason", "CHG-3 ok", "-o", "json"], env=env)
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["approvals"][0]["reason"] == "CHG-3 ok"
    again = runner.invoke(cli, ["approvals", "deny", request_id, "--reason", "no"], env=env)
    assert again.exit_code == 75
    assert "already decided" in again.output or "not pending" in again.output
    bw.broker.wait_idle()
    bw.release(request_id)
    assert jitpim_assignments(bw) == []
