"""A job cancelled mid-step, as the runner cancels it (SIGINT to the step's process, SIGTERM 7.5 s later, then
a kill), leaves no access behind: jitpim releases when the signal reaches it, and when the runner kills it
first the action's post step releases the run's leases from the ledger."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jitpim.emulator import Emulator

from .harness import grants_left, run_example, verify_evidence
from .workflow_runner import Cancel


def _once_granted(emu: Emulator, settle: float) -> Any:
    """True `settle` seconds after the emulator first shows the job's grant (the command is then running)."""
    seen: list[float] = []

    def when() -> bool:
        if not seen and grants_left(emu):
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= settle

    return when


def _run(
    emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str], cancel: Cancel
) -> Any:
    return run_example(
        "rotate-secret.yml",
        "rotate",
        emu=emu,
        control=control,
        tmp_path=tmp_path,
        tool_cache=tool_cache,
        variables=variables,
        cancel=cancel,
        runner_env={"SCENARIO_HOLD_SECONDS": "120"},
    )


def test_cancelled_mid_command_releases_and_uploads_the_evidence(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    # The runner's own timing: SIGINT, SIGTERM 7.5 s later, a kill 2.5 s after that.
    cancel = Cancel("jit", _once_granted(workflow_emu, 1.0))
    started = time.monotonic()
    result = _run(workflow_emu, control, tmp_path, tool_cache, variables, cancel)
    assert time.monotonic() - started < 90
    assert result.status == "cancelled"
    assert cancel.signals_sent[0] == "SIGINT"
    assert "SIGKILL" not in cancel.signals_sent, "jitpim should have finished releasing before the kill"
    assert result.step("jit").outcome == "cancelled"
    # Steps without always() are skipped after a cancellation; the evidence upload (always()) runs.
    assert result.step("__3").outcome == "skipped"
    assert result.step("__4").outcome == "success"
    records = verify_evidence(result)
    assert [r["outcome"] for r in records] == ["released"]
    post = result.step("jit", post=True)
    assert post.outcome == "success", post.log
    assert grants_left(workflow_emu) == []


def test_killed_before_it_could_release_the_post_step_releases(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    # The runner's kill comes before jitpim gets to release (a runner that gives no grace at all).
    cancel = Cancel("jit", _once_granted(workflow_emu, 0.5), term_after=0.0, kill_after=0.0)
    cancel_result = _run(workflow_emu, control, tmp_path, tool_cache, variables, cancel)
    assert cancel.signals_sent == ["SIGINT", "SIGTERM", "SIGKILL"]
    assert cancel_result.status == "cancelled"
    post = cancel_result.step("jit", post=True)
    assert post.outcome == "success", post.log
    assert "released" in post.log
    assert grants_left(workflow_emu) == []


def test_a_failing_command_fails_the_step_and_leaves_nothing(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    result = run_example(
        "rotate-secret.yml",
        "rotate",
        emu=workflow_emu,
        control=control,
        tmp_path=tmp_path,
        tool_cache=tool_cache,
        variables=variables,
        runner_env={"SCENARIO_EXIT": "7"},
    )
    assert result.status == "failure"
    jit = result.step("jit")
    assert jit.outcome == "failure"
    assert jit.outputs["exit-code"] == "7"  # the command's own exit code: every release succeeded
    assert result.step("__3").outcome == "skipped"
    assert result.step("__4").outcome == "success"  # the evidence is uploaded all the same
    assert grants_left(workflow_emu) == []
