"""The `azure-role` provider (PIM for Azure resources) against the emulator over HTTPS: the CI app's time-bound
AdminAssign (direct mode) and alice's SelfActivate (self mode), with the policy read first, PIM's own dry run,
approval, the five-minute floor on release, extension and recovery after a lost response. Every test releases
what it granted; state is asserted in the emulator afterwards."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.services.arm.state import ArmState
from jitpim.errors import NotEligibleError, PolicyDeniedError, ProviderApiError, ProviderError
from jitpim.model import Decision, Mode, PolicyView, ReasonCode, Target, evaluate
from jitpim.providers import Grant, GrantStatus, ProviderContext, ReleaseOutcome, ResolvedTarget, get_provider
from jitpim.providers.arm_pim_role import ArmPimRoleProvider
from jitpim.testing import ControlPlaneUserCredential, ProviderContexts

ARM_SCOPE = "https://management.azure.com/.default"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


@pytest.fixture(name="provider")
def _provider() -> ArmPimRoleProvider:
    found = get_provider("azure-role")
    assert isinstance(found, ArmPimRoleProvider)
    return found


def _vault(info: dict[str, Any]) -> str:
    return str(info["vaults"]["kv-payments"]["resource_id"])


def _group(info: dict[str, Any]) -> str:
    return f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"


def _target(scope: str, role: str = "Key Vault Secrets Officer", **kwargs: Any) -> Target:
    kwargs.setdefault("justification", "rotate the payments secrets")
    return Target.from_flags(kind="azure-role", role=role, scope=scope, **kwargs)


def _decide(target: Target, ctx: ProviderContext, policy: PolicyView, duration: str = "30m") -> Decision:
    return evaluate(
        Target.from_flags(**{**target.to_json(), "duration": duration}),
        policy,
        mode=ctx.mode,
        now=ctx.now(),
        default_duration=timedelta(minutes=15),
        has_mfa=ctx.identity.has_mfa,
    )


def _plan(provider: ArmPimRoleProvider, ctx: ProviderContext, target: Target) -> tuple[ResolvedTarget, Decision]:
    resolved = provider.resolve(target, ctx)
    return resolved, _decide(resolved.target, ctx, provider.read_policy(resolved, ctx))


def _live(emu: Emulator, principal: str, role: str = SECRETS_OFFICER) -> list[Any]:
    """The principal's live role assignments of `role` (what ARM and Key Vault authorize against)."""
    world = emu.runtime.world
    with world.lock:
        return [
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == principal and a.role_definition_id.lower() == role
        ]


def _schedules(emu: Emulator, principal: str) -> list[Any]:
    world = emu.runtime.world
    with world.lock:
        state = world.service("arm", ArmState)
        return [s for s in state.schedules.values() if s.principal_id == principal and s.ended is None]


def _request_status(emu: Emulator, name: str) -> str:
    world = emu.runtime.world
    with world.lock:
        return world.service("arm", ArmState).requests[name].status


def _release_eventually(
    provider: ArmPimRoleProvider, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, emu: Emulator
) -> None:
    """Release in a finally: past PIM's five-minute floor if need be."""
    if grant.reused:
        return
    result = provider.release(grant, resolved, ctx)
    if result.outcome is ReleaseOutcome.TOO_EARLY:
        emu.advance(301)
        result = provider.release(grant, resolved, ctx)
    assert result.outcome in (ReleaseOutcome.RELEASED, ReleaseOutcome.ALREADY_GONE)


def test_resolve_by_name_and_by_id(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ctx = contexts("ci-app")
    by_name = provider.resolve(_target(_group(info), "Contributor"), ctx)
    full_id = (
        f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
    )
    by_id = provider.resolve(_target(_group(info), full_id), ctx)
    assert (by_name.role_id, by_name.role_name) == (by_id.role_id, by_id.role_name) == (CONTRIBUTOR, "Contributor")
    assert by_name.scope_name == "resource group rg-payments"
    assert by_name.principal_id == info["principals"]["ci-app"]["object_id"]


def test_read_policy_direct_and_self(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ci = contexts("ci-app")
    direct = provider.read_policy(provider.resolve(_target(_vault(info)), ci), ci)
    assert direct.max_duration == timedelta(hours=8)
    assert direct.max_admin_duration == timedelta(days=180)
    assert direct.limit_for(Mode.DIRECT) == timedelta(days=180)
    assert direct.require_justification and not direct.require_approval and not direct.require_mfa
    assert not direct.allow_permanent
    assert "roleManagementPolicies/" in direct.source
    alice = contexts("alice", Mode.SELF)
    own = provider.read_policy(provider.resolve(_target(_group(info), "Contributor"), alice), alice)
    assert own.max_duration == timedelta(hours=4) and own.limit_for(Mode.SELF) == timedelta(hours=4)
    assert own.require_approval and own.approvers == ("Bob Approver",) and own.require_justification
    # Not eligible and no right to read policies: refused by name, not as a bare 403.
    with pytest.raises(NotEligibleError, match="cannot read the PIM policy"):
        subscription = f"/subscriptions/{info['subscription_id']}"
        provider.read_policy(provider.resolve(_target(subscription, "Owner"), alice), alice)


def test_check_uses_pims_dry_run(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    ci = contexts("ci-app")
    resolved, decision = _plan(provider, ci, _target(_vault(info)))
    assert provider.check(resolved, decision, ci) == []
    # A window longer than the admin maximum (an unclamped decision) fails PIM's own ExpirationRule.
    too_long = _decide(resolved.target, ci, PolicyView(), duration="200d")
    [reason] = provider.check(resolved, too_long, ci)
    assert (reason.code, reason.rule) == (ReasonCode.POLICY_REFUSED, "ExpirationRule")
    # At the subscription the CI app holds no right to request assignments.
    subscription = f"/subscriptions/{info['subscription_id']}"
    on_sub = provider.resolve(_target(subscription), ci)
    [refusal] = provider.check(on_sub, decision, ci)
    assert refusal.code is ReasonCode.NOT_ELIGIBLE
    assert "Microsoft.Authorization/roleAssignmentScheduleRequests/write" in refusal.message


def test_self_check_needs_an_eligibility(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    alice = contexts("alice", Mode.SELF)
    resolved, decision = _plan(provider, alice, _target(_vault(info)))
    assert provider.check(resolved, decision, alice) == []
    reader = provider.resolve(_target(_vault(info), "Reader"), alice)
    [reason] = provider.check(reader, decision, alice)
    assert (reason.code, reason.rule) == (ReasonCode.NOT_ELIGIBLE, "EligibilityRule")
    assert "'Reader'" in reason.message and "Key Vault Secrets Officer at" in reason.message


def test_direct_grant_probe_and_release_after_the_floor(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ci = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved, decision = _plan(provider, ci, _target(_vault(info)))
    assert provider.find_existing(resolved, ci) is None
    name = str(uuid.uuid4())
    grant = provider.grant(resolved, decision, ci, request_name=name)
    try:
        assert (grant.status, grant.api_status, grant.request_id) == (GrantStatus.ACTIVE, "Provisioned", name)
        assert grant.data["request_type"] == "AdminAssign" and grant.data["schedule_id"]
        assert grant.start_at is not None and grant.end_at == grant.start_at + timedelta(minutes=30)
        [assignment] = _live(fresh_emu, sp)
        assert assignment.end is not None  # time-bound at the source
        refreshed = provider.refresh(grant, resolved, ci)
        assert refreshed.status is GrantStatus.ACTIVE and refreshed.end_at == grant.end_at
        assert provider.probe(grant, resolved, ci) is False  # Key Vault: still propagating
        fresh_emu.advance(5)
        assert provider.probe(grant, resolved, ci) is True
        reused = provider.find_existing(resolved, ci)
        assert reused is not None and reused.reused and reused.end_at == grant.end_at
        early = provider.release(grant, resolved, ci)
        assert early.outcome is ReleaseOutcome.TOO_EARLY
        assert early.retry_at == grant.start_at + timedelta(minutes=5, seconds=5)
        fresh_emu.advance(301)
    finally:
        _release_eventually(provider, grant, resolved, ci, fresh_emu)
    assert provider.release(grant, resolved, ci).outcome is ReleaseOutcome.ALREADY_GONE
    assert _live(fresh_emu, sp) == [] and _schedules(fresh_emu, sp) == []
    assert provider.refresh(grant, resolved, ci).status is GrantStatus.REVOKED


def test_grant_again_reuses_the_active_assignment(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ci = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved, decision = _plan(provider, ci, _target(_vault(info)))
    first = provider.grant(resolved, decision, ci, request_name=str(uuid.uuid4()))
    try:
        second = provider.grant(resolved, decision, ci, request_name=str(uuid.uuid4()))
        assert second.reused and second.request_id is None
        assert second.data["schedule_id"] == first.data["schedule_id"]
        assert len(_live(fresh_emu, sp)) == 1
        with pytest.raises(ProviderError, match="already in place"):
            provider.extend(second, resolved, decision, ci)
    finally:
        _release_eventually(provider, first, resolved, ci, fresh_emu)
    assert _live(fresh_emu, sp) == []


def test_lost_response_is_recovered_by_name(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator, control: Any
) -> None:
    ci = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved, decision = _plan(provider, ci, _target(_vault(info)))
    since = ci.now()
    control("faults", {"kind": "lost_response", "method": "PUT", "path": "roleAssignmentScheduleRequests/"})
    name = str(uuid.uuid4())
    with pytest.raises(ProviderApiError) as lost:
        provider.grant(resolved, decision, ci, request_name=name)
    assert lost.value.status == 504
    recovered = provider.recover(resolved, ci, request_name=name, since=since)
    try:
        assert recovered is not None and recovered.request_id == name and not recovered.reused
        assert recovered.status is GrantStatus.ACTIVE
        assert len(_live(fresh_emu, sp)) == 1 and len(_schedules(fresh_emu, sp)) == 1
        # Sending the same request again (a retrying caller) answers with what it became, not a second grant.
        again = provider.grant(resolved, decision, ci, request_name=name)
        assert again.request_id == name and not again.reused and len(_schedules(fresh_emu, sp)) == 1
    finally:
        if recovered is not None:
            _release_eventually(provider, recovered, resolved, ci, fresh_emu)
    assert provider.recover(resolved, ci, request_name=str(uuid.uuid4()), since=since) is None
    assert _live(fresh_emu, sp) == []


def test_direct_extend_within_policy(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ci = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    resolved, decision = _plan(provider, ci, _target(_vault(info)))
    grant = provider.grant(resolved, decision, ci, request_name=str(uuid.uuid4()))
    try:
        longer = _decide(resolved.target, ci, provider.read_policy(resolved, ci), duration="2h")
        extended = provider.extend(grant, resolved, longer, ci)
        assert extended.data["extension"]["method"] == "AdminExtend"
        [assignment] = _live(fresh_emu, sp)
        assert extended.end_at == assignment.end and abs(assignment.end - longer.end) < timedelta(seconds=1)
        assert provider.refresh(extended, resolved, ci).end_at == assignment.end
        beyond = _decide(resolved.target, ci, PolicyView(), duration="200d")
        with pytest.raises(PolicyDeniedError) as refused:
            provider.extend(extended, resolved, beyond, ci)
        assert refused.value.rules == ["ExpirationRule"]
    finally:
        _release_eventually(provider, grant, resolved, ci, fresh_emu)
    assert _live(fresh_emu, sp) == []


def test_self_activation_probe_and_deactivation(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    alice = contexts("alice", Mode.SELF)
    oid = info["principals"]["alice"]["object_id"]
    resolved, decision = _plan(provider, alice, _target(_vault(info)))
    grant = provider.grant(resolved, decision, alice, request_name=str(uuid.uuid4()))
    try:
        assert (grant.status, grant.data["request_type"]) == (GrantStatus.ACTIVE, "SelfActivate")
        assert "/roleeligibilityschedules/" in str(grant.data["linked_eligibility_id"]).lower()
        assert provider.probe(grant, resolved, alice) is False
        fresh_emu.advance(5)
        assert provider.probe(grant, resolved, alice) is True
        # PIM cannot lengthen an activation, and refuses a second one while it is active.
        with pytest.raises(ProviderApiError) as refused:
            provider.extend(grant, resolved, _decide(resolved.target, alice, PolicyView(), "2h"), alice)
        assert refused.value.code == "RoleAssignmentDoesNotExist" and "up front" in refused.value.hint
        early = provider.release(grant, resolved, alice)
        assert early.outcome is ReleaseOutcome.TOO_EARLY and early.retry_at is not None
    finally:
        _release_eventually(provider, grant, resolved, alice, fresh_emu)
    assert _live(fresh_emu, oid) == []
    assert provider.release(grant, resolved, alice).outcome is ReleaseOutcome.ALREADY_GONE


def test_approval_pending_then_approved(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    alice = contexts("alice", Mode.SELF)
    oid = info["principals"]["alice"]["object_id"]
    resolved, decision = _plan(provider, alice, _target(_group(info), "Contributor"))
    assert decision.needs_approval and provider.check(resolved, decision, alice) == []
    grant = provider.grant(resolved, decision, alice, request_name=str(uuid.uuid4()))
    try:
        assert (grant.status, grant.api_status) == (GrantStatus.PENDING_APPROVAL, "PendingApproval")
        assert provider.refresh(grant, resolved, alice).status is GrantStatus.PENDING_APPROVAL
        approval = str(grant.data["approval_id"])
        stage = approval.rsplit("/", 1)[-1]
        bob = ControlPlaneUserCredential(info, "bob").get_token(ARM_SCOPE).token
        response = requests.patch(
            f"{info['arm']}{approval}/stages/{stage}?api-version=2021-01-01-preview",
            json={"properties": {"reviewResult": "Approve", "justification": "ok"}},
            headers={"Authorization": f"Bearer {bob}"},
            verify=info["ca_cert"],
            timeout=10,
        )
        assert response.status_code == 200, response.text
        grant = provider.refresh(grant, resolved, alice)
        assert grant.status is GrantStatus.ACTIVE and grant.end_at is not None and grant.start_at is not None
        assert grant.end_at - grant.start_at == decision.duration
        assert len(_live(fresh_emu, oid, CONTRIBUTOR)) == 1
    finally:
        _release_eventually(provider, grant, resolved, alice, fresh_emu)
    assert _live(fresh_emu, oid, CONTRIBUTOR) == []


def test_release_of_a_pending_request_cancels_it(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    alice = contexts("alice", Mode.SELF)
    resolved, decision = _plan(provider, alice, _target(_group(info), "Contributor"))
    name = str(uuid.uuid4())
    grant = provider.grant(resolved, decision, alice, request_name=name)
    result = provider.release(grant, resolved, alice)
    assert result.outcome is ReleaseOutcome.RELEASED and "canceled" in result.detail
    assert _request_status(fresh_emu, name) == "Canceled"
    assert provider.refresh(grant, resolved, alice).status is GrantStatus.CANCELED


def test_a_window_that_starts_later_is_scheduled(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ci = contexts("ci-app")
    sp = info["principals"]["ci-app"]["object_id"]
    later = (ci.now() + timedelta(hours=1)).replace(microsecond=0)
    resolved, decision = _plan(provider, ci, _target(_vault(info), start=later))
    name = str(uuid.uuid4())
    grant = provider.grant(resolved, decision, ci, request_name=name)
    try:
        assert (grant.status, grant.api_status, grant.start_at) == (GrantStatus.SCHEDULED, "Granted", later)
        assert _live(fresh_emu, sp) == [] and len(_schedules(fresh_emu, sp)) == 1
    finally:
        result = provider.release(grant, resolved, ci)
    assert result.outcome is ReleaseOutcome.RELEASED and _request_status(fresh_emu, name) == "Canceled"
    assert _schedules(fresh_emu, sp) == []


def test_self_grant_without_eligibility_is_not_eligible(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    alice = contexts("alice", Mode.SELF)
    resolved = provider.resolve(_target(_vault(info), "Reader"), alice)
    decision = _decide(resolved.target, alice, PolicyView())
    with pytest.raises(NotEligibleError, match="no eligibility"):
        provider.grant(resolved, decision, alice, request_name=str(uuid.uuid4()))


def test_eligible_lists_alices_eligibilities(
    provider: ArmPimRoleProvider, contexts: ProviderContexts, info: dict[str, Any]
) -> None:
    targets = provider.eligible(contexts("alice", Mode.SELF))
    wanted = {("Key Vault Secrets Officer", _vault(info).lower()), ("Contributor", _group(info).lower())}
    assert {(t.role, t.scope.lower()) for t in targets} == wanted
    assert all(t.kind.value == "azure-role" for t in targets)
    assert provider.eligible(contexts("ci-app")) == []
