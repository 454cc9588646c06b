"""The action in broker mode: the job's identity holds no rights; the broker grants after checking the job's
OIDC token against policy, and the action's post step asks the broker to release what a killed step still
held."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import EmulatedClock

from .harness import grants_left
from .test_action_inputs import run_adhoc_job
from .workflow_runner import Cancel

_spec = importlib.util.spec_from_file_location("broker_helpers", Path(__file__).parents[1] / "broker" / "conftest.py")
assert _spec is not None and _spec.loader is not None
broker_helpers = importlib.util.module_from_spec(_spec)
sys.modules["broker_helpers"] = broker_helpers  # its dataclasses look their module up
_spec.loader.exec_module(broker_helpers)


@pytest.fixture(name="broker_url")
def _broker_url(workflow_emu: Emulator, tmp_path: Path) -> Iterator[str]:
    from jitpim.broker import BrokerServer, build_broker

    info = workflow_emu.info
    broker = build_broker(
        broker_helpers.broker_config(info, tmp_path / "broker"),
        environ=broker_helpers.broker_environ(info),
        clock=EmulatedClock(workflow_emu),
        poll_initial=0.5,
    )
    server = BrokerServer(broker, reaper_interval=0).start()
    try:
        yield str(server.url)
    finally:
        server.stop()
        broker.close()


WITH = """\
mode: broker
broker-url: {url}
kind: rbac
role: Key Vault Secrets Officer
scope: {vault}
duration: 10m
justification: rotate db-password
run: ./scripts/rotate-secret.sh
"""


def test_broker_mode_grants_through_the_broker_and_leaves_nothing(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str], broker_url: str
) -> None:
    vault = workflow_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = run_adhoc_job(
        workflow_emu, control, tmp_path / "job", tool_cache, variables,
        WITH.format(url=broker_url, vault=vault),
        env={"VAULT_NAME": "kv-payments", "SECRET_NAME": "db-password"},
    )  # fmt: skip
    assert result.status == "success", result.log
    assert "kv-payments/db-password: new version" in result.log
    assert grants_left(workflow_emu) == []


def test_broker_mode_post_step_releases_what_a_killed_step_held(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str], broker_url: str
) -> None:
    vault = workflow_emu.info["vaults"]["kv-payments"]["resource_id"]
    seen: list[float] = []

    def granted() -> bool:
        if not seen and grants_left(workflow_emu):
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] > 0.5

    cancel = Cancel("jit", granted, term_after=0.0, kill_after=0.0)
    result = run_adhoc_job(
        workflow_emu, control, tmp_path / "job", tool_cache, variables,
        WITH.format(url=broker_url, vault=vault),
        env={"VAULT_NAME": "kv-payments", "SECRET_NAME": "db-password", "SCENARIO_HOLD_SECONDS": "120"},
        cancel=cancel,
    )  # fmt: skip
    assert cancel.signals_sent == ["SIGINT", "SIGTERM", "SIGKILL"]
    post = result.step("jit", post=True)
    assert post.outcome == "success", post.log
    assert "asking the broker to release" in post.log
    assert grants_left(workflow_emu) == []
