"""`jitpim demo`: the README's main command runs the whole walkthrough to success in seconds, reports every
step as JSON for machines, and fails (exit 1) when a step does not hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from jitpim.cli._demo_job import DemoRecorder
from jitpim.cli.demo import run_demo

STEPS = {
    "emulator",
    "job",
    "identity",
    "denied-before",
    "plan",
    "granted",
    "waiting",
    "emulated-time",
    "effective",
    "read",
    "written",
    "validate",
    "disabled",
    "released",
    "denied-after",
    "audit",
}


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "jitpim", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_json_has_every_step_and_every_check_holds() -> None:
    done = _demo("--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["ok"] is True
    assert {step["step"] for step in report["timeline"]} >= STEPS
    assert all(check["ok"] for check in report["checks"]) and len(report["checks"]) == 9
    assert report["wall_s"] < 10
    assert report["emulated_time_advanced_s"] >= 60  # RBAC propagation and the grace period, not waited for
    ids = report["ids"]
    assert ids["role_assignment_name"] and ids["lease_id"].startswith("gh-9100200300-1/")
    rotated = report["audit"]["secret_rotated"]
    assert rotated["version_id"] == ids["secret_version_id"] and rotated["final_state"] == "rotated"
    assert report["audit"]["signatures"] >= 1
    assert "rotated" in report["github_step_summary"]


def test_demo_text_output() -> None:
    done = _demo()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every step held" in done.stdout
    assert "403 Forbidden/ForbiddenByRbac" in done.stdout
    assert "advanced the emulator's clock" in done.stdout


def test_demo_does_not_touch_the_process_environment() -> None:
    before = dict(os.environ)
    report = run_demo(None, DemoRecorder())
    assert report["ok"] is True
    assert dict(os.environ) == before


def test_demo_fails_when_a_step_does_not_hold(tmp_path: Path) -> None:
    scenario_text = (Path(__file__).parents[2] / "src/jitpim/emulator/data/default_scenario.yaml").read_text()
    scenario = yaml.safe_load(scenario_text)
    # Without its narrow right to assign, the pipeline cannot elevate: the demo must say so and exit 1.
    scenario["rbac"] = [
        r for r in scenario["rbac"] if not (r["principal"] == "ci-app" and "Access Control" in r["role"])
    ]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    done = _demo("--scenario", str(path), "--output", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert failed and failed[0]["check"] == "walkthrough completed"
    assert "kv-payments" in failed[0]["detail"]  # it cannot even see the vault: it has no role on it
