"""Key Vault secret rotation under a real elevation, in process, against the emulator (emulated time): the
write works only inside the window, a failed validation rolls back, a lost response is not written twice."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jitpim.api import Runtime, Settings
from jitpim.api.rotation import check_run_context, rotate_secret_planned, secret_target
from jitpim.audit.ledger import Ledger
from jitpim.emulator import Emulator
from jitpim.emulator.services.keyvault.state import KeyVaultState
from jitpim.errors import ConfigError, ProviderApiError, RotationError, UsageError
from jitpim.lifecycle import make_plan
from jitpim.model import RunContext, Ticket
from jitpim.rotation import (
    SecretRotationRequest,
    SecretRotator,
    SecretValue,
    ValidationSpec,
    ValueSource,
    VaultSecrets,
    generate,
    resolve_vault,
)
from jitpim.testing import EmulatedClock

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
INITIAL = "initial-db-password-v1"


@pytest.fixture(name="rt")
def _rt(fresh_emu: Emulator, tmp_path: Path) -> Iterator[Runtime]:
    info = fresh_emu.info
    app = info["principals"]["ci-app"]
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "AZURE_CLIENT_ID": app["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_SECRET": app["client_secret"],
    }
    clock = EmulatedClock(fresh_emu)
    ledger = Ledger.open(tmp_path / "ledger.sqlite3", clock=clock.now)
    settings = Settings(cloud="emulator", emulator_url=info["authority"], ca_bundle=info["ca_cert"], environ=env)
    runtime = Runtime.open(settings, clock=clock, run=RunContext(actor="tester"), ledger=ledger)
    try:
        yield runtime
    finally:
        runtime.close()
        ledger.close()


def _vault_state(emu: Emulator) -> Any:
    return emu.runtime.world.service("keyvault", KeyVaultState).vault("kv-payments").secrets["db-password"]


def _officer_assignments(emu: Emulator) -> list[Any]:
    world = emu.runtime.world
    ci = world.principal_id("ci-app")
    return [
        a
        for a in world.rbac.assignments.values()
        if a.principal_id == ci and a.role_definition_id.lower().endswith(OFFICER_ID)
    ]


def _plan(rt: Runtime, emu: Emulator, grace: timedelta | None = None) -> tuple[Any, Any]:
    vault = resolve_vault(rt.session.context().arm, "kv-payments", subscription_id=emu.info["subscription_id"])
    target = secret_target(
        vault, duration=None, justification="test", ticket=None, start=None, grace=grace, secret_name="db-password"
    )
    return vault, make_plan([target], contexts=rt.session.context, options=rt.options(), clock=rt.clock)


def _validation(exit_code: int) -> ValidationSpec:
    script = f"import os,sys; os.read(int(os.environ['JITPIM_SECRET_FD']), 99999); sys.exit({exit_code})"
    return ValidationSpec.parse([sys.executable, "-c", script])


def test_the_write_is_refused_without_the_elevation(rt: Runtime, fresh_emu: Emulator) -> None:
    vault_url = fresh_emu.info["vaults"]["kv-payments"]["url"]
    secrets = VaultSecrets(rt.session.context().keyvault(vault_url))
    value = generate()[0]
    with pytest.raises(ProviderApiError) as raised:
        secrets.set("db-password", value)
    assert (raised.value.status, raised.value.inner_code) == (403, "ForbiddenByRbac")
    with pytest.raises(ProviderApiError):
        SecretRotator(secrets, clock=rt.clock).rotate(SecretRotationRequest("db-password"), value)
    assert _vault_state(fresh_emu).latest.value == INITIAL


def test_rotation_succeeds_because_of_the_elevation_and_records_ids_only(
    rt: Runtime, fresh_emu: Emulator, tmp_path: Path
) -> None:
    vault, plan = _plan(rt, fresh_emu)
    value, source = generate()
    request = SecretRotationRequest("db-password", expires_in=timedelta(days=30))
    result = rotate_secret_planned(rt, plan, vault, request, value, source, _validation(0))

    assert result.exit_code == 0
    outcome = result.outcome
    assert outcome is not None and outcome.final_state == "rotated"
    secret = _vault_state(fresh_emu)
    latest = secret.latest
    assert latest.value == value.reveal()
    assert latest.version == outcome.current_version_id == outcome.new_version_id
    assert latest.expires is not None
    lease_id = result.leases[0]["lease_id"]
    assert latest.tags["jitpim-lease"] == lease_id and latest.tags["jitpim-actor"] == "tester"
    assert latest.tags["jitpim-rotation"] == outcome.rotation_id
    assert latest.tags["owner"] == "payments"  # the secret's own tags are kept
    assert value.reveal() not in str(latest.tags)
    # Released and verified: nothing of ours is left on the vault.
    assert [r.outcome for r in result.releases] == ["released"]
    assert _officer_assignments(fresh_emu) == []
    # The record: version ids, never the value (also not anywhere in the ledger file).
    events = {e["type"]: e["body"] for e in rt.ledger.events(lease_id)}
    assert events["secret.rotated"]["version_id"] == outcome.new_version_id
    assert events["secret.rotated"]["previous_version_id"] == outcome.previous_version_id
    assert events["secret.rotated"]["final_state"] == "rotated"
    assert "secret.rotation_started" in events and "lease.summary" in events
    rt.ledger.close()
    for path in tmp_path.glob("ledger.sqlite3*"):
        assert value.reveal().encode() not in path.read_bytes()
        assert INITIAL.encode() not in path.read_bytes()


def test_failing_validation_rolls_back_and_releases(rt: Runtime, fresh_emu: Emulator) -> None:
    vault, plan = _plan(rt, fresh_emu)
    value, source = generate()
    before = _vault_state(fresh_emu).latest.version
    result = rotate_secret_planned(rt, plan, vault, SecretRotationRequest("db-password"), value, source, _validation(3))

    assert result.exit_code == RotationError.exit_code == 81
    outcome = result.outcome
    assert outcome is not None and outcome.final_state == "rolled_back"
    assert outcome.validation is not None and outcome.validation.exit_code == 3
    secret = _vault_state(fresh_emu)
    # The previous value is current again, as a new version; the failed version is disabled.
    assert secret.latest.value == INITIAL
    assert secret.latest.version == outcome.restored_version_id != before
    assert secret.latest.tags["jitpim-restored-from"] == before
    assert secret.versions[outcome.new_version_id].enabled is False
    assert _officer_assignments(fresh_emu) == []
    record = [e for e in rt.ledger.events() if e["type"] == "secret.rotated"][-1]["body"]
    assert record["final_state"] == "rolled_back" and record["restored_version_id"] == outcome.restored_version_id


def test_older_versions_are_disabled_after_the_grace_period(rt: Runtime, fresh_emu: Emulator) -> None:
    assert isinstance(rt.clock, EmulatedClock)
    vault, plan = _plan(rt, fresh_emu, grace=timedelta(minutes=10))
    assert plan.items[0].decision.duration >= timedelta(minutes=20)  # the window covers the grace period
    value, source = generate()
    request = SecretRotationRequest("db-password", disable_older_after=timedelta(minutes=10))
    result = rotate_secret_planned(rt, plan, vault, request, value, source, None)
    assert result.exit_code == 0
    assert 600.0 in rt.clock.slept  # waited on the emulated clock
    secret = _vault_state(fresh_emu)
    enabled = [v.version for v in secret.versions.values() if v.enabled]
    assert enabled == [secret.latest.version]
    assert result.outcome is not None and len(result.outcome.disabled_version_ids) == 1


def test_a_lost_write_response_is_found_not_written_twice(rt: Runtime, fresh_emu: Emulator, control: Any) -> None:
    vault, plan = _plan(rt, fresh_emu)
    versions_before = len(_vault_state(fresh_emu).versions)
    control("faults", {"kind": "lost_response", "method": "PUT", "path": "/secrets/db-password$", "count": 1})
    value, source = generate()
    result = rotate_secret_planned(rt, plan, vault, SecretRotationRequest("db-password"), value, source, None)
    assert result.exit_code == 0
    assert len(_vault_state(fresh_emu).versions) == versions_before + 1
    assert any(s.name == "recover" for s in rt.timeline.steps)
    assert _vault_state(fresh_emu).latest.value == value.reveal()


def test_identical_value_and_missing_secret_are_refused(rt: Runtime, fresh_emu: Emulator) -> None:
    vault, plan = _plan(rt, fresh_emu)
    source = ValueSource("stdin", "standard input")
    with pytest.raises(RotationError, match="equals the current"):
        rotate_secret_planned(rt, plan, vault, SecretRotationRequest("db-password"), SecretValue(INITIAL), source, None)
    assert _officer_assignments(fresh_emu) == []
    vault, plan = _plan(rt, fresh_emu)
    with pytest.raises(RotationError, match="no secret"):
        rotate_secret_planned(rt, plan, vault, SecretRotationRequest("no-such-secret"), generate()[0], source, None)
    assert _officer_assignments(fresh_emu) == []


def test_the_run_context_must_name_a_pull_request_or_a_ticket() -> None:
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1", "GITHUB_REPOSITORY": "o/r", "GITHUB_REF": "refs/heads/main"}
    with pytest.raises(UsageError, match="ticket"):
        check_run_context(RunContext.from_environ(ci), None)
    check_run_context(RunContext.from_environ(ci), Ticket.parse("JIRA:OPS-1"))
    check_run_context(RunContext.from_environ({**ci, "GITHUB_REF": "refs/pull/7/merge"}), None)
    check_run_context(RunContext.from_environ({}), None)  # a local run
    with pytest.raises(UsageError, match="GITHUB_REPOSITORY"):
        check_run_context(RunContext.from_environ({**ci, "GITHUB_REPOSITORY": ""}), Ticket.parse("JIRA:OPS-1"))


def test_a_vault_is_found_by_name_url_or_arm_id(rt: Runtime, fresh_emu: Emulator) -> None:
    info = fresh_emu.info
    arm = rt.session.context().arm
    expected = info["vaults"]["kv-payments"]
    for ref in ("kv-payments", "KV-Payments", expected["url"] + "/", expected["resource_id"]):
        found = resolve_vault(arm, ref, subscription_id=info["subscription_id"])
        assert (found.name, found.url, found.resource_id.lower()) == (
            "kv-payments",
            expected["url"],
            expected["resource_id"].lower(),
        )
    with pytest.raises(ConfigError, match="no vault 'kv-other'") as raised:
        resolve_vault(arm, "kv-other", subscription_id=info["subscription_id"])
    assert "kv-payments" in (raised.value.hint or "")
    with pytest.raises(ConfigError, match="subscription"):
        resolve_vault(arm, "kv-payments", subscription_id=None)
