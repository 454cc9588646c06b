"""Benchmarks of the main job (run on demand, not a test):

  1. `jitpim demo`, a fresh process each run (interpreter start, imports, emulator start, the walkthrough);
  2. one `jitpim rotate secret`, a fresh process each run, against an emulator already running: with the
     default scenario's 3 s RBAC propagation (real waiting on the wall clock: a separate process cannot
     advance the emulator's time), and with propagation set to 0 (jitpim's own cost).

    .venv/bin/python scripts/bench_demo.py [--runs 5]

Numbers go to docs/explanation/performance.md ("Demo and rotation") by hand, with the machine they were
measured on. Set-up of the environment (.venv) is excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ


def _stats(name: str, samples: list[float]) -> None:
    print(
        f"{name:<58} median {statistics.median(samples):6.2f} s   min {min(samples):6.2f} s   "
        f"max {max(samples):6.2f} s   ({len(samples)} runs)"
    )


def bench_demo(runs: int) -> None:
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    walls, inner, advanced = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jitpim", "demo", "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"jitpim demo failed:\n{done.stdout}\n{done.stderr}")
        report = json.loads(done.stdout)
        inner.append(report["wall_s"])
        advanced.append(report["emulated_time_advanced_s"])
    _stats("jitpim demo (process start to exit)", walls)
    _stats("  of which the walkthrough (emulator start to report)", inner)
    print(f"  emulated time advanced instead of waiting: {statistics.median(advanced):.1f} s per run")


def bench_rotate(runs: int, propagation: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, Emulator.start() as emu:
        world = emu.runtime.world
        with world.lock:
            world.settings.rbac_propagation_seconds = propagation
            world.apply_settings()
        env = github_job_environ(emu.info, workdir=Path(tmp))
        env["PATH"] = os.environ.get("PATH", os.defpath)
        command = [
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
            f"{sys.executable} -c 'import os; os.read(int(os.environ[\"JITPIM_SECRET_FD\"]), 65536)'",
            "--quiet",
        ]
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            samples.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"jitpim rotate secret failed:\n{done.stdout}\n{done.stderr}")
        _stats(f"jitpim rotate secret, RBAC propagation {propagation:.0f} s", samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_demo(args.runs)
    bench_rotate(args.runs, propagation=0)
    bench_rotate(args.runs, propagation=3)


if __name__ == "__main__":
    main()
