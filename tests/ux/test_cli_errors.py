"""What a user sees when they get something wrong: one `error:` line naming the problem, a `hint:` line with
the fix, the exit code docs/reference/exit-codes.md documents, no traceback, and nothing granted or written
before a mistake jitpim could have caught up front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.cli.emulator import env_lines, github_job_exports
from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _assert_one_line_error(result: Any, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert [line.split(":", 1)[0] for line in lines] == ["error", "hint"], result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.fixture(name="env")
def _env(fresh_emu: Emulator, tmp_path: Path) -> dict[str, str]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    return github_job_environ(fresh_emu.info, workdir=tmp_path)


def _grants(emu: Emulator) -> int:
    world = emu.runtime.world
    ci = emu.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return sum(
            1 for a in world.rbac.assignments.values() if a.principal_id == ci and a.role_definition_id == OFFICER_ID
        )


def _officer(info: dict[str, Any]) -> list[str]:
    scope = info["vaults"]["kv-payments"]["resource_id"]
    return ["--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", scope, "-j", "ux", "-q"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "--kind", "bogus"], "'--kind'"),
        (["extend", "some-lease"], "--duration"),
        (["rotate", "secret", "--vault", "kv-payments"], "--name"),
        (["exec", "--kind", "rbac"], "COMMAND"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_click_usage_errors_exit_64_with_error_and_hint(args: list[str], needle: str) -> None:
    """Flags click refuses exit 64 (UsageError), not click's 2, and read like every other jitpim error."""
    _assert_one_line_error(_run({}, *args), 64, needle, "--help")


def test_a_group_without_its_subcommand_shows_its_help_and_exits_64() -> None:
    result = _run({}, "rotate")
    assert result.exit_code == 64
    assert "app-credential" in result.stderr and "error:" not in result.stderr


def test_exec_refuses_a_missing_command_before_granting(fresh_emu: Emulator, env: dict[str, str]) -> None:
    result = _run(env, "exec", *_officer(fresh_emu.info), "--", "/nonexistent/deploy.sh")
    _assert_one_line_error(result, 64, "/nonexistent/deploy.sh is not an executable file", "chmod +x")
    assert _grants(fresh_emu) == 0
    status = json.loads(_run(env, "status", "--all", "-o", "json").stdout)
    assert status["leases"] == []


def test_rotate_refuses_a_missing_validation_command_before_anything(tmp_path: Path) -> None:
    """Checked before any identity or emulator is needed: nothing is granted, nothing written to the vault."""
    env = {"JITPIM_LEDGER": str(tmp_path / "ledger.sqlite3"), "PATH": "/usr/bin:/bin"}
    result = _run(env, "rotate", "secret", "--vault", "kv-payments", "--name", "db-password", "--validate", "no-such-x")
    _assert_one_line_error(result, 64, "validation command not found: no-such-x")


def test_extend_applies_the_rbac_ceiling_and_refuses_finished_leases(fresh_emu: Emulator, env: dict[str, str]) -> None:
    elevated = _run(env, "elevate", *_officer(fresh_emu.info), "--duration", "20m", "-o", "json")
    assert elevated.exit_code == 0, elevated.output
    lease_id = json.loads(elevated.stdout)["leases"][0]["lease_id"]

    too_long = _run(env, "extend", lease_id, "--duration", "30h")
    _assert_one_line_error(too_long, 73, "exceeds the policy maximum of 8h")

    assert _run(env, "release", lease_id, "-q").exit_code == 0
    finished = _run(env, "extend", lease_id, "--duration", "30m")
    _assert_one_line_error(finished, 64, "is released", "jitpim elevate")


def test_direct_mode_with_only_a_persons_sign_in_says_to_use_self_mode(fresh_emu: Emulator, tmp_path: Path) -> None:
    info = fresh_emu.info
    alice = info["principals"]["alice"]
    env = {
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(tmp_path / "ledger.sqlite3"),
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_USERNAME": alice["user_principal_name"],
        "AZURE_PASSWORD": alice["password"],
    }
    _assert_one_line_error(_run(env, "eligible"), 72, "AZURE_USERNAME", "--mode self")


def test_a_refused_secret_prints_only_jitpims_error_not_azure_identity_logs(
    fresh_emu: Emulator, tmp_path: Path
) -> None:
    info = fresh_emu.info
    env = {
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(tmp_path / "ledger.sqlite3"),
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_CLIENT_SECRET": "not-the-secret",
    }
    _assert_one_line_error(_run(env, "plan", *_officer(info)), 72, "AADSTS7000215")


def test_a_broken_access_file_names_the_line(tmp_path: Path) -> None:
    access = tmp_path / "jitpim.yaml"
    access.write_text("version: 1\nprofiles: [\n")
    result = _run({}, "plan", "--profile", "p", "--access-file", str(access))
    _assert_one_line_error(result, 71, "is not valid YAML at line 3", "access-file.md")


def test_emulator_env_as_a_person_selects_self_mode(emu: Emulator) -> None:
    person = "\n".join(env_lines(emu.info, "alice", github=False))
    app = "\n".join(env_lines(emu.info, "ci-app", github=False))
    assert "export JITPIM_MODE=self" in person
    assert "unset JITPIM_MODE" in app and "export JITPIM_MODE" not in app


def test_emulator_env_github_exports_the_jobs_run_context(emu: Emulator, tmp_path: Path) -> None:
    job = github_job_exports(emu.info, "ci-app", tmp_path / "job")
    lines = env_lines(emu.info, "ci-app", github=True, github_job=job)
    exported = dict(line[len("export ") :].split("=", 1) for line in lines if line.startswith("export "))
    assert exported["GITHUB_REPOSITORY"] == "contoso/payments"
    assert exported["GITHUB_RUN_ID"] == "9100200300"
    assert Path(exported["GITHUB_OUTPUT"]).is_file() and Path(exported["GITHUB_STEP_SUMMARY"]).is_file()
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in exported and "AZURE_CLIENT_SECRET" not in exported
