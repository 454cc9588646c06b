"""Against the emulator, jitpim waits on the emulator's clock: PIM's five-minute no-removal window counts
down, and `jitpim emulator advance 300` (here the same control-plane call) ends the wait at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests

from jitpim.emulator import Emulator
from jitpim.lifecycle.emulated_time import EmulatorClock
from jitpim.testing import github_job_environ


def test_the_emulator_clock_is_what_jitpim_waits_on(fresh_emu: Emulator) -> None:
    info = fresh_emu.info
    clock = EmulatorClock(info["authority"], info["ca_cert"], refresh=0.0)
    before = clock.now()
    fresh_emu.advance(3600)
    assert (clock.now() - before).total_seconds() >= 3600


def test_pims_window_counts_down_and_an_advance_ends_it(fresh_emu: Emulator, tmp_path: Path) -> None:
    info = fresh_emu.info
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    started = time.monotonic()
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jitpim",
            "exec",
            "--kind",
            "entra-role",
            "--role",
            "Application Administrator",
            "--duration",
            "30m",
            "--justification",
            "fix the app registration",
            "--",
            "true",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stderr is not None
    seen: list[str] = []
    for line in job.stderr:
        seen.append(line)
        if "left before the release" in line:
            break
    assert any("left before the release" in line for line in seen), "".join(seen)
    requests.post(f"{info['control']}/clock/advance", json={"seconds": 300}, verify=info["ca_cert"], timeout=10)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, "".join(seen) + err
    assert time.monotonic() - started < 90  # not the five real minutes
    assert "released" in err


def _officer_assignments(emu: Emulator) -> list[object]:
    world = emu.runtime.world
    ci = emu.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return [
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == ci and a.role_definition_id == "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
        ]


def test_a_later_rbac_window_is_granted_when_it_opens_not_before(fresh_emu: Emulator, tmp_path: Path) -> None:
    """Plain RBAC has no schedule at the source: `exec --start` waits and grants when the window opens."""
    info = fresh_emu.info
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    start = EmulatorClock(info["authority"], info["ca_cert"], refresh=0.0).now() + timedelta(minutes=10)
    vault = info["vaults"]["kv-payments"]["resource_id"]
    common = [
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        vault,
        "--duration",
        "10m",
        "--justification",
        "maintenance window",
        "--start",
        start.isoformat(),
    ]
    refused = subprocess.run(
        [sys.executable, "-m", "jitpim", "elevate", *common],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 64, refused.stderr
    assert "cannot be scheduled at the source" in refused.stderr and not _officer_assignments(fresh_emu)
    job = subprocess.Popen(
        [sys.executable, "-m", "jitpim", "exec", *common, "--", "true"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stderr is not None
    for line in job.stderr:
        if "granting" in line and "at" in line:
            break
    assert not _officer_assignments(fresh_emu)  # nothing granted before the window
    requests.post(f"{info['control']}/clock/advance", json={"seconds": 600}, verify=info["ca_cert"], timeout=10)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err
    assert "command exited with 0" in err and not _officer_assignments(fresh_emu)
