"""Rough edges users hit: JSON usage errors under `--output json`, an unknown `--app`, a CA bundle that is not a
certificate, and a misspelled Entra role name; each reads as a jitpim error with a hint and its exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.cli import cli, wants_json
from jitpim.emulator import Emulator
from jitpim.errors import ConfigError, UsageError
from jitpim.testing import github_job_environ

TICKET = "ServiceNow:CHG0042001"


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _error_lines(result: Any) -> list[str]:
    return [line.split(":", 1)[0] for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture(name="env")
def _env(fresh_emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return github_job_environ(fresh_emu.info, workdir=tmp_path)


# 1. usage errors under --output json ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({}, ["status", "--output", "json", "--bogus"], "--bogus"),
        ({}, ["rotate", "secret", "-o", "json", "--vault", "kv-payments"], "--name"),
        ({}, ["plan", "-ojson", "--kind", "bogus"], "'--kind'"),
        ({}, ["--output=json", "status"], "--output"),  # refused at the top: still asked for JSON
        ({"JITPIM_OUTPUT": "json"}, ["status", "--mode", "nope"], "'--mode'"),
    ],
)
def test_usage_errors_under_output_json_are_one_json_object(env: dict[str, str], args: list[str], needle: str) -> None:
    result = _run(env, *args)
    assert result.exit_code == UsageError.exit_code == 64
    assert result.stderr.strip() == ""
    data = json.loads(result.stdout)
    assert set(data) == set(UsageError("x").to_json())
    assert data["error"] == "UsageError" and data["exit_code"] == 64
    assert needle in data["message"] and "--help" in data["hint"]


def test_usage_errors_stay_text_without_json_and_ignore_the_childs_flags() -> None:
    # `-o json` after `--` belongs to the child command of `jitpim exec`, not to jitpim.
    result = _run({}, "exec", "--kind", "bogus", "--", "tool", "-o", "json")
    assert result.exit_code == 64 and result.stdout == ""
    assert _error_lines(result) == ["error", "hint"]


def test_wants_json_reads_the_last_output_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JITPIM_OUTPUT", raising=False)
    assert wants_json(["-o", "text", "--output", "json"])
    assert not wants_json(["--output", "json", "-o", "text"])
    assert not wants_json(["--output"])
    monkeypatch.setenv("JITPIM_OUTPUT", "json")
    assert wants_json([]) and not wants_json(["-o", "text"])


# 2. an application that does not exist -------------------------------------------------------------------------
@pytest.mark.parametrize("app", ["nope", "6f9a3c1e-0000-4000-8000-000000000001"])
def test_rotating_an_unknown_app_is_a_usage_error_naming_how_apps_are_found(env: dict[str, str], app: str) -> None:
    result = _run(env, "rotate", "app-credential", "--app", app, "--ticket", TICKET, "-q")
    assert result.exit_code == UsageError.exit_code, result.output
    assert _error_lines(result) == ["error", "hint"]
    assert app in result.stderr
    for needle in ("object id", "client id", "display name"):
        assert needle in result.stderr


def test_an_unknown_app_under_json_is_one_json_usage_error(env: dict[str, str]) -> None:
    result = _run(env, "rotate", "app-credential", "--app", "nope", "--ticket", TICKET, "-q", "-o", "json")
    assert result.exit_code == 64, result.output
    data = json.loads(result.stdout)
    assert data["error"] == "UsageError" and "display name" in data["hint"]


# 3. a CA bundle that is not a certificate ----------------------------------------------------------------------
def test_a_ca_bundle_that_is_not_a_pem_certificate_is_a_config_error(env: dict[str, str], tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-ca.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
    result = _run({**env, "JITPIM_CA_BUNDLE": str(bogus)}, "eligible")
    assert result.exit_code == ConfigError.exit_code == 71, result.output
    assert _error_lines(result) == ["error", "hint"]
    assert str(bogus) in result.stderr and "is not a CA certificate" in result.stderr
    assert "AZURE_CLIENT_ID" not in result.stderr  # not the unrelated credentials hint


def test_a_ca_bundle_for_a_real_cloud_is_checked_too(tmp_path: Path) -> None:
    from jitpim.cloud import resolve_cloud

    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is not a CA certificate"):
        resolve_cloud("public", environ={"JITPIM_CA_BUNDLE": str(empty)})


# 4. a misspelled Entra role ------------------------------------------------------------------------------------
def test_a_misspelled_entra_role_gets_a_did_you_mean_hint(env: dict[str, str]) -> None:
    result = _run(env, "plan", "--kind", "entra-role", "--role", "User Adminstrator", "--scope", "/", "-q")
    assert result.exit_code == UsageError.exit_code, result.output
    assert _error_lines(result) == ["error", "hint"]
    assert "User Adminstrator" in result.stderr
    assert "Did you mean 'User Administrator'" in result.stderr


def test_an_unrecognisable_entra_role_keeps_the_general_hint(env: dict[str, str]) -> None:
    result = _run(env, "plan", "--kind", "entra-role", "--role", "Zzqx", "--scope", "/", "-q")
    assert result.exit_code == 64, result.output
    assert "Did you mean" not in result.stderr and "template id" in result.stderr
