"""The GitHub Action never interpolates an input into a shell script (script injection), and passes every
declared input on."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ACTION = yaml.safe_load((Path(__file__).resolve().parent.parent / "action.yml").read_text())


def test_no_input_is_interpolated_into_a_script() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{ inputs." not in step.get("run", ""), step.get("name")


def test_every_input_reaches_the_exec_step() -> None:
    exec_step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "exec")
    passed = {m for v in exec_step["env"].values() for m in re.findall(r"inputs\.([\w-]+)", v)}
    assert passed == set(ACTION["inputs"])


def test_outputs_come_from_jitpim_step_outputs() -> None:
    assert {o["value"] for o in ACTION["outputs"].values()} == {
        "${{ steps.exec.outputs.lease-ids }}",
        "${{ steps.exec.outputs.exit-code }}",
        "${{ steps.exec.outputs.audit-file }}",
    }
