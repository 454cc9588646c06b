"""What the command line says is true and complete: plan windows keep their dates, help texts name defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ


def test_plan_shows_the_end_date_when_the_window_crosses_midnight(emu: Emulator, tmp_path: Path) -> None:
    """The issue's case: "from 2026-12-03 17:57Z to 01:57Z" read as the same day."""
    env = github_job_environ(emu.info, workdir=tmp_path)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=22, minute=0, second=0, microsecond=0)
    scope = emu.info["vaults"]["kv-payments"]["resource_id"]
    args = ["plan", "--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", scope, "-j", "window"]
    result = CliRunner().invoke(
        cli, [*args, "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--duration", "4h"], env=env
    )
    assert result.exit_code == 0, result.output
    end = start + timedelta(hours=4)
    assert f"from {start:%Y-%m-%d %H:%M:%S}Z to {end:%Y-%m-%d %H:%M:%S}Z" in result.output, result.output


def test_exec_output_json_keeps_the_childs_stdout_off_stdout(fresh_emu: Emulator, tmp_path: Path) -> None:
    """Under --output json, stdout is exactly one JSON document; the child's own output goes to stderr."""
    import json
    import os
    import subprocess
    import sys

    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = {**os.environ, **github_job_environ(fresh_emu.info, workdir=tmp_path / "job")}
    env["JITPIM_LEDGER"] = str(tmp_path / "ledger.sqlite3")
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    scope = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    command = [sys.executable, "-m", "jitpim", "exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer"]
    command += ["--scope", scope, "-j", "json out", "-q", "-o", "json", "--", "sh", "-c", "echo child-says-hello"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # nothing before or after the document
    assert document["exit_code"] == 0
    assert "child-says-hello" in done.stderr and "child-says-hello" not in done.stdout


def test_help_states_the_default_duration_the_cloud_choices_and_one_ledger_wording() -> None:
    from jitpim.cli._common import DEFAULT_DURATION
    from jitpim.cli._output import LEDGER_HELP
    from jitpim.cloud import CLOUD_NAMES
    from jitpim.lifecycle import LifecycleOptions
    from jitpim.model import format_duration

    assert format_duration(LifecycleOptions().default_duration) == DEFAULT_DURATION
    runner = CliRunner()
    for command in ("exec", "elevate", "plan"):
        shown = " ".join(runner.invoke(cli, [command, "--help"], terminal_width=200).output.split())
        assert f"[default: {DEFAULT_DURATION}, or the profile's]" in shown, command
        assert "--cloud [" + "|".join(CLOUD_NAMES) + "]" in shown, command
        assert " ".join(LEDGER_HELP.split()) in shown, command
    for command in (["status"], ["release"], ["reap"], ["dashboard"], ["audit", "report"], ["audit", "list"]):
        shown = " ".join(runner.invoke(cli, [*command, "--help"], terminal_width=200).output.split())
        assert " ".join(LEDGER_HELP.split()) in shown, command


def test_status_right_after_a_run_shows_the_finished_lease(fresh_emu: Emulator, tmp_path: Path) -> None:
    """`status` printed only "no open leases" right after a run; the latest finished leases show too."""
    import json

    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = github_job_environ(fresh_emu.info, workdir=tmp_path / "job")
    env["JITPIM_LEDGER"] = str(tmp_path / "ledger.sqlite3")
    scope = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    runner = CliRunner()
    ran = runner.invoke(
        cli,
        [
            "exec",
            "--kind",
            "rbac",
            "--role",
            "Key Vault Secrets Officer",
            "--scope",
            scope,
            "-j",
            "s",
            "-q",
            "--",
            "true",
        ],
        env=env,
    )
    assert ran.exit_code == 0, ran.output
    text = runner.invoke(cli, ["status"], env=env)
    assert text.exit_code == 0 and "no open leases" in text.output
    assert "recently finished" in text.output and "released" in text.output and "/rbac/" in text.output
    document = json.loads(runner.invoke(cli, ["status", "-o", "json"], env=env).stdout)
    assert document["leases"] == [] and [r["outcome"] for r in document["recent"]] == ["released"]


def test_an_evidence_file_that_cannot_be_written_is_an_audit_error_not_a_traceback(
    fresh_emu: Emulator, tmp_path: Path
) -> None:
    """JITPIM_AUDIT_FILE under /dev/null: the access is still released; the run exits 83 naming the file."""
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = github_job_environ(fresh_emu.info, workdir=tmp_path / "job")
    env["JITPIM_LEDGER"] = str(tmp_path / "ledger.sqlite3")
    env["JITPIM_AUDIT_FILE"] = "/dev/null/run.jsonl"
    scope = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    args = ["exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", scope, "-j", "e", "--", "true"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "cannot write the evidence file /dev/null/run.jsonl" in result.output, result.output
    assert result.exit_code == 83, result.output
