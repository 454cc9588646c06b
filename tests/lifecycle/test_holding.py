"""The one hold: every way of holding a lease (exec, a rotation, the library's `hold`) records its evidence the
same way, and maps a failed sink to exit 83 only when nothing worse happened."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim import api
from jitpim.audit.ledger import Ledger
from jitpim.errors import ProviderApiError
from jitpim.model import Target
from jitpim.testing import EmulatedClock, github_job_environ


@pytest.fixture(name="settings")
def _settings(fresh_emu: Any, tmp_path: Path) -> Iterator[api.Settings]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = github_job_environ(fresh_emu.info, workdir=tmp_path)
    sinks = tmp_path / "sinks.yaml"
    # Nothing listens on port 9 (discard): every delivery fails, and the records stay queued.
    sinks.write_text(
        "sinks:\n  - {name: soc, type: webhook, url: 'http://127.0.0.1:9/hook', secret_env: HOOK_KEY, retries: 0}\n"
    )
    env.update(JITPIM_SINKS=str(sinks), HOOK_KEY="k" * 32)
    yield api.Settings.from_environ(env)


def _officer(info: dict[str, Any], justification: str | None = "rotate") -> Target:
    return Target.from_flags(
        kind="rbac",
        role="Key Vault Secrets Officer",
        scope=info["vaults"]["kv-payments"]["resource_id"],
        duration="10m",
        justification=justification,
    )


def test_exec_with_a_failed_sink_exits_83_and_keeps_a_failing_command_code(
    fresh_emu: Any, settings: api.Settings
) -> None:
    clock = EmulatedClock(fresh_emu)
    access = api.AccessRequest((_officer(fresh_emu.info),))
    with api.Runtime.open(settings, clock=clock) as rt:
        ok = api.exec(rt, api.ExecRequest(access, (sys.executable, "-c", "pass")))
        failing = api.exec(rt, api.ExecRequest(access, (sys.executable, "-c", "raise SystemExit(3)")))
    assert ok.child_exit_code == 0 and ok.exit_code == 83
    assert ok.evidence is not None and ok.evidence.sinks_failed and ok.evidence.run_file is not None
    assert failing.exit_code == 3, "the command's own failure is not hidden behind the sink's"


def test_a_rotation_records_its_evidence_through_the_same_hold(fresh_emu: Any, settings: api.Settings) -> None:
    clock = EmulatedClock(fresh_emu)
    request = api.SecretRotationInput(
        vault="kv-payments",
        name="db-password",
        subscription_id=fresh_emu.info["subscription_id"],
        ticket="ServiceNow:CHG0042001",
    )
    with api.Runtime.open(settings, clock=clock) as rt:
        result = api.rotate_secret(rt, request)
    assert result.outcome is not None and result.outcome.succeeded
    assert result.exit_code == 83  # rotated and released; only the sink failed
    assert len(result.summaries) == 1 and result.summaries[0]["signature"]
    assert [str(r.outcome) for r in result.releases] == ["released"]


def test_a_grant_the_source_refuses_leaves_the_same_evidence(fresh_emu: Any, settings: api.Settings) -> None:
    """The grant fails at the source (after the write-ahead record): the failed lease is still signed and in the
    run file, found from the hold's own leases, not by scanning the ledger for this process."""
    info = fresh_emu.info
    requests.post(
        f"{info['control']}/faults",
        json=[{"kind": "error", "path": "roleAssignments/", "method": "PUT", "status": 400, "count": 1}],
        verify=info["ca_cert"],
        timeout=10,
    ).raise_for_status()
    clock = EmulatedClock(fresh_emu)
    with (
        api.Runtime.open(settings, clock=clock) as rt,
        pytest.raises(ProviderApiError),
        api.hold(rt, api.AccessRequest((_officer(info),))),
    ):
        pytest.fail("must not be granted")
    with Ledger.open(settings.environ["JITPIM_LEDGER"], read_only=True) as ledger:
        [lease] = ledger.list()
        assert (lease["state"], lease["outcome"]) == ("failed", "grant_failed")
        assert [e["type"] for e in ledger.events(lease["lease_id"])][-1] == "lease.summary"
    run_file = Path(settings.environ["JITPIM_LEDGER"]).parent / "runs" / "gh-9100200300-1.jsonl"
    assert lease["lease_id"] in run_file.read_text()
