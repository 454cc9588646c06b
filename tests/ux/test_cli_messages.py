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
