"""Make-before-break rotation of an app registration's client secret, under a PIM directory-role elevation
scoped to that one application, against the emulator (emulated time)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.api import Runtime, Settings
from jitpim.api import rotation as _rotation_run
from jitpim.api.rotation import secret_target
from jitpim.audit.ledger import Ledger
from jitpim.emulator import Emulator
from jitpim.emulator.services.keyvault.state import KeyVaultState
from jitpim.errors import AuthError, RotationError
from jitpim.lifecycle import LifecycleOptions, make_plan
from jitpim.model import RunContext, Target
from jitpim.rotation import (
    AppCredentialRequest,
    AppCredentialRotator,
    SecretValue,
    client_secret_token_check,
    resolve_app,
    resolve_vault,
)
from jitpim.testing import EmulatedClock

STORE = "payments-api-secret"


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


def _plan(rt: Runtime, emu: Emulator, options: LifecycleOptions | None = None) -> tuple[Any, Any, Any]:
    ctx = rt.session.context()
    app = resolve_app(ctx.graph, "payments-api")
    vault = resolve_vault(ctx.arm, "kv-payments", subscription_id=emu.info["subscription_id"])
    targets = [
        Target.from_flags(
            kind="entra-role",
            role="Cloud Application Administrator",
            scope=f"/{app.object_id}",
            duration="10m",
            justification="rotate the payments-api client secret",
        ),
        secret_target(vault, duration="10m", justification="store it", ticket=None, start=None, secret_name=STORE),
    ]
    return app, vault, make_plan(targets, contexts=rt.session.context, options=rt.options(options), clock=rt.clock)


def _token(info: dict[str, Any], client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=info["ca_cert"],
        timeout=10,
    )


def _stored(emu: Emulator) -> Any:
    return emu.runtime.world.service("keyvault", KeyVaultState).vault("kv-payments").secrets[STORE.lower()].latest


def _held_roles(emu: Emulator) -> list[Any]:
    world = emu.runtime.world
    ci = world.principal_id("ci-app")
    now = world.clock.now()
    return [a for a in world.directory.role_assignments if a.principal_id == ci and a.active(now)]


def _rotate(rt: Runtime, emu: Emulator, options: LifecycleOptions | None = None, **request: Any) -> Any:
    app, vault, plan = _plan(rt, emu, options)
    return _rotation_run.rotate_app_credential_planned(
        rt, plan, AppCredentialRequest(app=app.app_id, store_name=STORE, **request), vault, options
    )


def test_rotation_end_to_end_make_before_break(rt: Runtime, fresh_emu: Emulator) -> None:
    info = fresh_emu.info
    client_id = info["principals"]["payments-api"]["client_id"]
    first = _rotate(rt, fresh_emu)
    assert first.exit_code == 0, first.outcome
    assert first.outcome.final_state == "rotated" and first.outcome.removed_key_ids == []
    first_value = _stored(fresh_emu).value
    assert _stored(fresh_emu).tags["jitpim-key-id"] == first.outcome.new_key_id
    assert _token(info, client_id, first_value).status_code == 200

    second = _rotate(rt, fresh_emu)
    assert second.exit_code == 0
    # The previous rotation's credential (named by the stored secret's tag) is removed once the new one works.
    assert second.outcome.removed_key_ids == [first.outcome.new_key_id]
    refused = _token(info, client_id, first_value)
    assert refused.status_code == 401 and "AADSTS7000215" in refused.text
    assert _token(info, client_id, _stored(fresh_emu).value).status_code == 200
    # Everything granted was released (the PIM role after its 5-minute floor, on the emulated clock).
    assert _held_roles(fresh_emu) == []
    assert {r.outcome for r in second.releases} == {"released"}
    record = [e for e in rt.ledger.events() if e["type"] == "secret.rotated"][-1]["body"]
    assert record["kind"] == "app_credential" and record["removed_key_ids"] == [first.outcome.new_key_id]
    assert first_value not in str(rt.ledger.events())


def test_without_the_elevation_the_credential_cannot_be_added(rt: Runtime, fresh_emu: Emulator) -> None:
    ctx = rt.session.context()
    rotator = AppCredentialRotator(
        ctx.graph,
        tenant_id=ctx.identity.tenant_id,
        clock=rt.clock,
        token_check=lambda *args: None,
        default_scope="https://graph.microsoft.com/.default",
    )
    keys_before = resolve_app(ctx.graph, "payments-api").key_ids
    with pytest.raises(RotationError, match="Authorization_RequestDenied"):
        rotator.rotate(AppCredentialRequest(app="payments-api"))
    assert rotator.last_outcome is not None and rotator.last_outcome.final_state == "unchanged"
    assert resolve_app(ctx.graph, "payments-api").key_ids == keys_before


def _checker(failures: list[AuthError]) -> Callable[[Any], Callable[[str, str, SecretValue, str], None]]:
    def factory(cloud: Any) -> Callable[[str, str, SecretValue, str], None]:
        real = client_secret_token_check(cloud)

        def check(tenant: str, client_id: str, secret: SecretValue, scope: str) -> None:
            if failures:
                raise failures.pop(0)
            real(tenant, client_id, secret, scope)

        return check

    return factory


def test_a_new_secret_still_replicating_is_retried(
    rt: Runtime, fresh_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(rt.clock, EmulatedClock)
    failures = [AuthError("obtaining a token failed (AADSTS7000215): Invalid client secret provided.")] * 2
    monkeypatch.setattr(_rotation_run, "client_secret_token_check", _checker(list(failures)))
    result = _rotate(rt, fresh_emu)
    assert result.exit_code == 0
    assert result.outcome.token_attempts == 3
    waits = [step.data.get("attempt") for step in rt.timeline.steps if "still replicating" in step.message]
    assert waits == [1, 2]
    assert 2.0 in rt.clock.slept and 4.0 in rt.clock.slept  # backoff on the emulated clock


def test_a_secret_that_does_not_work_is_removed_and_the_store_restored(
    rt: Runtime, fresh_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _rotate(rt, fresh_emu)
    assert first.exit_code == 0
    stored_before = _stored(fresh_emu)
    failures = [AuthError("obtaining a token failed (AADSTS700016): Application not found in the directory.")]
    monkeypatch.setattr(_rotation_run, "client_secret_token_check", _checker(failures))
    with pytest.raises(RotationError, match="rolled_back"):
        _rotate(rt, fresh_emu)
    ctx = rt.session.context()
    keys = resolve_app(ctx.graph, "payments-api").key_ids
    assert first.outcome.new_key_id in keys  # the old secret was not broken
    restored = _stored(fresh_emu)
    assert restored.value == stored_before.value and restored.version != stored_before.version
    assert _held_roles(fresh_emu) == []
    record = [e for e in rt.ledger.events() if e["type"] == "secret.rotated"][-1]["body"]
    assert record["final_state"] == "rolled_back" and record["restored_version_id"] == restored.version
    assert record["new_key_id"] not in keys


def test_second_rotation_joins_jitpims_own_grant(rt: Runtime, fresh_emu: Emulator) -> None:
    """Issue 10: with `--early-release expire` the first rotation leaves its PIM role to expire; the second
    rotation must recognise that grant as jitpim's own (its marker), not call it "pre-existing ... not ours",
    and end it as jitpim's (released, or left to expire again), never as someone else's."""
    expire = LifecycleOptions(early_release="expire")
    first = _rotate(rt, fresh_emu, expire)
    assert first.exit_code == 0
    assert "left_to_expire" in {r.outcome for r in first.releases}
    fresh_emu.advance(60)
    second = _rotate(rt, fresh_emu, expire)
    assert second.exit_code == 0
    assert "reused_not_released" not in {r.outcome for r in second.releases}
    messages = [s.message for s in rt.timeline.steps]
    assert not [m for m in messages if "not ours" in m or "pre-existing" in m], messages
    assert any("jitpim's own grant" in m for m in messages), messages
    fresh_emu.advance(11 * 60)  # past the extended end: PIM ends it at the source
    assert _held_roles(fresh_emu) == []
