"""`jitpim rotate secret` as a GitHub Actions job runs it: a separate process against the emulator over HTTPS.
SIGTERM in the middle leaves no grant and a consistent vault, and the record says which value is current; the
new value appears in no output, no ledger byte and no process's command line or environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit.ledger import Ledger
from jitpim.ci.github import escape_data
from jitpim.emulator import Emulator
from jitpim.emulator.services.keyvault.state import KeyVaultState
from jitpim.testing import github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
INITIAL = "initial-db-password-v1"

# The validation command: reads the value as documented, scans every readable process's command line and
# environment for it, leaves a marker, then (with a second argument) waits to be interrupted.
VALIDATOR = textwrap.dedent(
    """
    import os, sys, time
    value = open("/dev/fd/" + os.environ["JITPIM_SECRET_FD"]).read().encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for entry in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{entry}", "rb") as handle:
                    if value in handle.read():
                        found.append(f"{pid}/{entry}")
            except OSError:
                pass
    open(sys.argv[1], "w").write(",".join(found) or "clean")
    if found:
        sys.exit(9)
    if len(sys.argv) > 2:
        time.sleep(120)
    """
)


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0  # this process runs on the wall clock
        world.apply_settings()
    env = github_job_environ(fresh_emu.info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return {"env": env, "tmp": tmp_path, "emu": fresh_emu}


def _command(job: dict[str, Any], *extra: str, wait: bool = False) -> list[str]:
    marker = str(job["tmp"] / "validated")
    validate = f"{sys.executable} -c '{VALIDATOR}' {marker}" + (" wait" if wait else "")
    return [
        sys.executable,
        "-m",
        "jitpim",
        "rotate",
        "secret",
        "--vault",
        "kv-payments",
        "--name",
        "db-password",
        "--ticket",
        "ServiceNow:CHG0042001",
        "--validate",
        validate,
        *extra,
    ]


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Until the validation command has run (an event in the child, not a duration to let pass)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"jitpim ended early ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the validation command never ran")
        time.sleep(0.05)


def _secret(emu: Emulator) -> Any:
    return emu.runtime.world.service("keyvault", KeyVaultState).vault("kv-payments").secrets["db-password"]


def _officer_assignments(emu: Emulator) -> list[Any]:
    world = emu.runtime.world
    ci = world.principal_id("ci-app")
    return [
        a
        for a in world.rbac.assignments.values()
        if a.principal_id == ci and a.role_definition_id.lower().endswith(OFFICER_ID)
    ]


def _records(job: dict[str, Any]) -> list[dict[str, Any]]:
    with Ledger.open(job["env"]["JITPIM_LEDGER"]) as ledger:
        return [e["body"] for e in ledger.events() if e["type"] == "secret.rotated"]


def test_rotation_leaks_the_value_nowhere(job: dict[str, Any]) -> None:
    emu: Emulator = job["emu"]
    done = subprocess.run(
        _command(job, "--output", "json"), env=job["env"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (job["tmp"] / "validated").read_text() == "clean"  # not in any process's argv or environment
    value = _secret(emu).latest.value
    assert value != INITIAL
    assert value not in done.stdout
    for path in job["tmp"].iterdir():
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path.name
    # In Actions the value is masked: the one line holding it is the runner's ::add-mask:: command (on
    # stderr with --output json, so stdout stays one JSON document), which the runner consumes.
    mask = f"::add-mask::{escape_data(value)}"
    assert [line for line in done.stderr.splitlines() if value in line or escape_data(value) in line] == [mask]
    assert json.loads(done.stdout)["rotation"]["final_state"] == "rotated"
    assert _records(job)[-1]["final_state"] == "rotated"
    assert _officer_assignments(emu) == []


def test_sigterm_during_validation_rolls_back_and_releases(job: dict[str, Any]) -> None:
    emu: Emulator = job["emu"]
    previous = _secret(emu).latest.version
    proc = subprocess.Popen(
        _command(job, wait=True), env=job["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for(job["tmp"] / "validated", proc)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert _officer_assignments(emu) == []
    secret = _secret(emu)
    assert secret.latest.value == INITIAL  # the previous value is current again
    assert secret.latest.tags["jitpim-restored-from"] == previous
    record = _records(job)[-1]
    assert record["final_state"] == "rolled_back"
    assert record["current_version_id"] == secret.latest.version
    assert record["validation"]["signal"] == signal.SIGTERM


def test_sigterm_in_the_grace_period_keeps_the_validated_value_and_releases(job: dict[str, Any]) -> None:
    emu: Emulator = job["emu"]
    proc = subprocess.Popen(
        _command(job, "--disable-older-after", "10m"),
        env=job["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # progress lines; the grace wait announces itself before it starts
        if "grace period" in line:
            break
    else:
        pytest.fail(f"jitpim ended without a grace period ({proc.wait()})")
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert _officer_assignments(emu) == []
    secret = _secret(emu)
    assert secret.latest.value != INITIAL  # validated: the new value stays current
    record = _records(job)[-1]
    assert record["final_state"] == "rotated"
    assert record["current_version_id"] == secret.latest.version
    assert "interrupted" in (record["reason"] or "") or "Interrupted" in (record["reason"] or "")
    assert record["disabled_version_ids"] == []


@pytest.mark.parametrize("name", ["bad name!", "a_b", "x" * 128, "db-password\n::warning::x"])
def test_a_bad_secret_name_is_refused_before_anything_is_granted(job: dict[str, Any], name: str) -> None:
    """Key Vault refuses these names with a 400; jitpim refuses them first, before the grant, the value and
    its ::add-mask::, with the name's rule in the hint."""
    from click.testing import CliRunner

    from jitpim.cli import cli

    env = {k: v for k, v in job["env"].items() if k != "PYTHONPATH"}
    args = ["rotate", "secret", "--vault", "kv-payments", "--name", name, "--ticket", "ServiceNow:CHG0042001", "-q"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 64, result.output
    assert "is not a Key Vault secret name" in result.stderr and "letters, digits and dashes" in result.stderr
    assert "::add-mask::" not in result.output
    assert _officer_assignments(job["emu"]) == []
    with Ledger.open(env["JITPIM_LEDGER"]) as ledger:
        assert ledger.list() == []
    app = ["rotate", "app-credential", "--app", "payments-api", "--store-in", f"kv-payments/{name}"]
    refused = CliRunner().invoke(cli, [*app, "--ticket", "ServiceNow:CHG0042001", "-q"], env=env)
    assert refused.exit_code == 64 and "is not a Key Vault secret name" in refused.stderr, refused.output
