"""The `rbac` provider against the emulator over HTTPS: the CI app grants itself Key Vault Secrets Officer on the
vault through its conditioned RBAC Administrator right, waits until the vault's data plane lets it in, and
deletes the assignment again. State is asserted in the emulator afterwards; no test leaves an assignment."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.errors import NotEligibleError, ProviderApiError, UsageError
from jitpim.model import Decision, Mode, PolicyView, ReasonCode, Target, evaluate
from jitpim.providers import Grant, GrantStatus, ProviderContext, ReleaseOutcome, ResolvedTarget, get_provider
from jitpim.providers.arm_role_assignment import ArmRoleAssignmentProvider
from jitpim.testing import ProviderContexts

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@pytest.fixture(name="provider")
def _provider() -> ArmRoleAssignmentProvider:
    found = get_provider("rbac")
    assert isinstance(found, ArmRoleAssignmentProvider)
    return found


def _vault(info: dict[str, Any]) -> str:
    return str(info["vaults"]["kv-payments"]["resource_id"])


def _target(scope: str, role: str = "Key Vault Secrets Officer", **kwargs: Any) -> Target:
    return Target.from_flags(kind="rbac", role=role, scope=scope, **kwargs)


def _decide(target: Target, ctx: ProviderContext, duration: str = "30m") -> Decision:
    return evaluate(
        Target.from_flags(**{**target.to_json(), "duration": duration}),
        PolicyView(max_duration=timedelta(hours=8)),
        mode=ctx.mode,
        now=ctx.now(),
        default_duration=timedelta(minutes=15),
        has_mfa=ctx.identity.has_mfa,
    )


def _assignments(emu: Emulator, principal: str, role: str = SECRETS_OFFICER) -> list[Any]:
    world = emu.runtime.world
    with world.lock:
        return [
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == principal and a.role_definition_id.lower() == role
        ]


def _release_all(
    provider: ArmRoleAssignmentProvider, resolved: ResolvedTarget, ctx: ProviderContext, *grants: Grant
) -> None:
    for grant in grants:
        if not grant.reused:
            provider.release(grant, resolved, ctx)


def test_resolve_by_name_by_guid_and_by_id(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ctx = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    full_id = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"
    by_name = provider.resolve(_target(_vault(info)), ctx)
    by_guid = provider.resolve(_target(_vault(info), SECRETS_OFFICER.upper()), ctx)
    by_id = provider.resolve(_target(_vault(info), full_id), ctx)
    assert (by_name.role_id, by_name.role_name) == (SECRETS_OFFICER, "Key Vault Secrets Officer")
    assert (by_guid.role_id, by_guid.role_name) == (SECRETS_OFFICER, "Key Vault Secrets Officer")
    assert (by_id.role_id, by_id.role_name) == (OWNER, "Owner")
    assert by_name.principal_id == sp and by_name.tenant_id == info["tenant_id"]
    assert by_name.scope_name == "kv-payments (Microsoft.KeyVault/vaults)"
    assert by_name.describe() == "rbac 'Key Vault Secrets Officer' on kv-payments (Microsoft.KeyVault/vaults)"


def test_resolve_refuses_unknown_roles_and_scopes(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ctx = contexts("ci-app")
    with pytest.raises(UsageError) as typo:
        provider.resolve(_target(_vault(info), "Key Vault Secret Officer"), ctx)
    assert "'Key Vault Secrets Officer'" in typo.value.hint
    with pytest.raises(UsageError, match="no Azure role definition has the id"):
        provider.resolve(_target(_vault(info), str(uuid.uuid4())), ctx)
    missing = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-nowhere"
    with pytest.raises(UsageError, match="does not exist"):
        provider.resolve(_target(missing), ctx)


def test_policy_is_jitpims_own(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ctx = contexts("ci-app")
    policy = provider.read_policy(provider.resolve(_target(_vault(info)), ctx), ctx)
    assert policy.max_duration is None and not policy.require_approval
    assert "no PIM policy" in policy.source


def test_check_names_the_missing_right(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ctx = contexts("ci-app")
    on_vault = provider.resolve(_target(_vault(info)), ctx)
    assert provider.check(on_vault, _decide(on_vault.target, ctx), ctx) == []
    group = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    on_group = provider.resolve(_target(group), ctx)
    [reason] = provider.check(on_group, _decide(on_group.target, ctx), ctx)
    assert reason.code is ReasonCode.NOT_ELIGIBLE and reason.refuses
    assert "Microsoft.Authorization/roleAssignments/write" in reason.message


def test_grant_probe_release_against_the_vault(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ctx = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved = provider.resolve(_target(_vault(info), justification="rotate"), ctx)
    decision = _decide(resolved.target, ctx)
    assert provider.find_existing(resolved, ctx) is None
    name = str(uuid.uuid4())
    grant = provider.grant(resolved, decision, ctx, request_name=name)
    try:
        assert (grant.status, grant.request_id, grant.reused) == (GrantStatus.ACTIVE, name, False)
        assert grant.end_at == decision.end and grant.data["expires_at_source"] is False
        [created] = _assignments(fresh_emu, sp)
        assert created.name == name and created.scope.lower() == _vault(info).lower()
        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.ACTIVE
        # The vault's data plane refuses (ForbiddenByRbac) until the assignment has propagated.
        assert provider.probe(grant, resolved, ctx) is False
        fresh_emu.advance(5)
        assert provider.probe(grant, resolved, ctx) is True
        # Someone asking again reuses it instead of granting twice.
        again = provider.find_existing(resolved, ctx)
        assert again is not None and again.reused and again.request_id == name
        extended = provider.extend(grant, resolved, _decide(resolved.target, ctx, "2h"), ctx)
        assert extended.end_at is not None and grant.end_at is not None and extended.end_at > grant.end_at
    finally:
        first = provider.release(grant, resolved, ctx)
    assert first.outcome is ReleaseOutcome.RELEASED
    assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
    assert _assignments(fresh_emu, sp) == []
    assert provider.refresh(grant, resolved, ctx).status is GrantStatus.REVOKED
    assert provider.probe(grant, resolved, ctx) is False


def test_condition_refusal_becomes_not_eligible(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ctx = contexts("ci-app")
    resolved = provider.resolve(_target(_vault(info), "Owner"), ctx)
    with pytest.raises(NotEligibleError) as refused:
        provider.grant(resolved, _decide(resolved.target, ctx), ctx, request_name=str(uuid.uuid4()))
    assert "ABAC condition" in refused.value.message and refused.value.target == resolved.describe()
    assert "roleAssignments/write" in refused.value.hint
    assert _assignments(fresh_emu, info["principals"]["ci-app"]["object_id"], OWNER) == []


def test_an_existing_assignment_is_reused_not_duplicated(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ctx = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved = provider.resolve(_target(_vault(info)), ctx)
    first = provider.grant(resolved, _decide(resolved.target, ctx), ctx, request_name=str(uuid.uuid4()))
    try:
        # A second lease with its own name meets 409 RoleAssignmentExists and reuses the first assignment.
        second = provider.grant(resolved, _decide(resolved.target, ctx), ctx, request_name=str(uuid.uuid4()))
        assert second.reused and second.request_id == first.request_id
        assert len(_assignments(fresh_emu, sp)) == 1
        assert provider.release(second, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
        assert len(_assignments(fresh_emu, sp)) == 1
    finally:
        _release_all(provider, resolved, ctx, first)
    assert _assignments(fresh_emu, sp) == []


def test_a_lost_response_ends_in_exactly_one_assignment(
    provider: ArmRoleAssignmentProvider,
    contexts: ProviderContexts,
    info: dict[str, Any],
    fresh_emu: Emulator,
    control: Any,
) -> None:
    ctx = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved = provider.resolve(_target(_vault(info)), ctx)
    since = ctx.now()
    # One lost answer: the same PUT is sent again (same name) and answers 200.
    control("faults", {"kind": "lost_response", "method": "PUT", "path": "roleAssignments/"})
    name = str(uuid.uuid4())
    grant = provider.grant(resolved, _decide(resolved.target, ctx), ctx, request_name=name)
    try:
        assert grant.request_id == name and not grant.reused
        assert [a.name for a in _assignments(fresh_emu, sp)] == [name]
    finally:
        _release_all(provider, resolved, ctx, grant)
    # Every answer lost: the lifecycle calls recover, which finds the committed assignment by its name.
    control("faults", {"kind": "lost_response", "method": "PUT", "path": "roleAssignments/", "count": 10})
    name = str(uuid.uuid4())
    with pytest.raises(ProviderApiError) as lost:
        provider.grant(resolved, _decide(resolved.target, ctx), ctx, request_name=name)
    assert lost.value.status == 504
    control("faults", method="DELETE")
    recovered = provider.recover(resolved, ctx, request_name=name, since=since)
    try:
        assert recovered is not None and recovered.request_id == name and not recovered.reused
        assert [a.name for a in _assignments(fresh_emu, sp)] == [name]
    finally:
        if recovered is not None:
            _release_all(provider, resolved, ctx, recovered)
    assert provider.recover(resolved, ctx, request_name=str(uuid.uuid4()), since=since) is None
    assert _assignments(fresh_emu, sp) == []


def test_eligible_lists_the_roles_the_condition_allows(
    provider: ArmRoleAssignmentProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    targets = provider.eligible(contexts("ci-app"))
    assert _target(_vault(info)) in targets
    assert all(t.kind.value == "rbac" for t in targets)
    # alice holds no right to assign anything.
    assert provider.eligible(contexts("alice", Mode.SELF)) == []


def test_scopes_wildcards_and_rule_names() -> None:
    from jitpim.providers._arm import ArmScope, action_matches, policy_rules

    sub = "1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516"
    secret = ArmScope.parse(
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/db-password/"
    )
    assert secret.vault_id == f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    assert (
        secret.secret_name == "db-password" and secret.describe() == "db-password (Microsoft.KeyVault/vaults/secrets)"
    )
    assert secret.same_or_below(f"/subscriptions/{sub}/resourceGroups/RG") and not secret.same_or_below(
        "/subscriptions/x"
    )
    group = ArmScope.parse("/providers/Microsoft.Management/managementGroups/platform")
    assert group.describe() == "management group platform" and group.vault_id is None
    assert group.role_definition_id(OWNER) == f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"
    assert ArmScope.parse(f"/subscriptions/{sub}").role_definition_id(OWNER).startswith(f"/subscriptions/{sub}/")
    assert action_matches("*/read", "Microsoft.KeyVault/vaults/read")
    assert action_matches(
        "Microsoft.KeyVault/vaults/secrets/*", "microsoft.keyvault/vaults/secrets/readMetadata/action"
    )
    assert action_matches("*", "Microsoft.Authorization/*/read")  # a pattern is covered by a broader one
    assert not action_matches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read")
    message = 'The following policy rules failed: ["ExpirationRule","JustificationRule"]'
    assert policy_rules(message) == ["ExpirationRule", "JustificationRule"]
