"""The README's library example, run as written against the emulator (only the clock is the emulator's)."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit.ledger import Ledger
from jitpim.emulator import Emulator
from jitpim.testing import EmulatedClock, github_job_environ

README = Path(__file__).resolve().parents[2] / "README.md"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"  # Key Vault Secrets Officer


def _example() -> str:
    section = README.read_text(encoding="utf-8").split("## As a library", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README has no library example"
    return found.group(1)


def _officer_assignments(emu: Emulator, principal: str) -> list[Any]:
    world = emu.runtime.world
    with world.lock:
        return [
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == principal and a.role_definition_id.endswith(OFFICER)
        ]


def test_the_readme_library_example_runs(
    fresh_emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    info = fresh_emu.info
    env = github_job_environ(info, workdir=tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    script = tmp_path / "rotate.sh"
    script.write_text('#!/bin/sh\ntest -n "$JITPIM_LEASES" || exit 3\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.chdir(tmp_path)
    code = _example()
    assert len(code.strip().splitlines()) <= 12
    code = code.replace("Settings.from_environ())", "Settings.from_environ(), clock=EmulatedClock(emu))")
    exec(
        code,
        {"VAULT_ID": info["vaults"]["kv-payments"]["resource_id"], "EmulatedClock": EmulatedClock, "emu": fresh_emu},
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "True"
    assert printed[1].startswith("holding [")
    assert printed[2] == "0"
    # Nothing is left granted, and the ledger shows both leases released.
    assert _officer_assignments(fresh_emu, info["principals"]["ci-app"]["object_id"]) == []
    with Ledger.open(env["JITPIM_LEDGER"], read_only=True) as ledger:
        leases = ledger.list()
    assert [lease["state"] for lease in leases] == ["released", "released"]
