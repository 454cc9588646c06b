"""The `entra-role` provider against the emulated Graph over HTTPS: resolve, policy, PIM's own validation,
grant -> refresh -> probe (wids lag) -> release (5-minute floor), reuse, lost responses, extend, approval,
eligibility. Every test releases what it granted (in a finally) and checks the emulator's state after the fact.

The emulator here delays directory role propagation by 30 s, so "granted but not yet effective" is observable
(a freshly issued token's `wids` lacks the role until then) without racing the wall clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario
from jitpim.errors import NotEligibleError, PolicyDeniedError, ProviderApiError, UsageError
from jitpim.model import Decision, Mode, Target, Ticket, evaluate
from jitpim.providers import (
    Grant,
    GrantStatus,
    Provider,
    ProviderContext,
    ReleaseOutcome,
    ResolvedTarget,
    get_provider,
)
from jitpim.providers.graph_directory_role import GraphDirectoryRoleProvider
from jitpim.testing import ControlPlaneUserCredential, emulator_provider_context

APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
PROPAGATION_S = 30
REQUESTS = "roleAssignmentScheduleRequests"


# fixtures and helpers ------------------------------------------------------------------------------------
@pytest.fixture(name="emu", scope="module")
def _emu() -> Iterator[Emulator]:
    """This module's emulator: the default scenario with a 30 s directory role propagation delay."""
    scenario = default_scenario()
    scenario["settings"] = {**(scenario.get("settings") or {}), "directory_propagation_seconds": PROPAGATION_S}
    emulator = Emulator.start(scenario=scenario)
    try:
        yield emulator
    finally:
        emulator.stop()


def context(emu: Emulator, who: str, mode: Mode, *, mfa: bool = True) -> ProviderContext:
    return emulator_provider_context(emu, who, mode, mfa=mfa)  # type: ignore[no-any-return]


def target(role: str = "Application Administrator", **kwargs: Any) -> Target:
    kwargs.setdefault("justification", "deploy payments #42")
    return Target.from_flags(kind="entra-role", role=role, scope="/", **kwargs)


def decide(provider: Provider, resolved: ResolvedTarget, ctx: ProviderContext, hours: float = 1) -> Decision:
    policy = provider.read_policy(resolved, ctx)
    decision = evaluate(
        resolved.target,
        policy,
        mode=ctx.mode,
        now=ctx.now(),
        default_duration=timedelta(hours=hours),
        has_mfa=ctx.identity.has_mfa,
    )
    assert decision.allowed, decision.reasons
    return decision


def state(control: Any) -> dict[str, Any]:
    return dict(control("state", method="GET"))


def pim_assignments(control: Any, principal: str, role: str = APP_ADMIN) -> list[dict[str, Any]]:
    return [
        a
        for a in state(control)["directory_role_assignments"]
        if a["principal_id"] == principal and a["role_definition_id"] == role and a["source"] == "pim"
    ]


def live_schedules(control: Any, principal: str, role: str = APP_ADMIN) -> list[dict[str, Any]]:
    return [
        s
        for s in state(control)["graph"]["schedules"]
        if s["level"] == "assignment"
        and s["principal_id"] == principal
        and s["resource_id"] == role
        and s["state"] != "ended"
    ]


def release_for_good(
    emu: Emulator, provider: Provider, grant: Grant | None, resolved: ResolvedTarget, ctx: ProviderContext
) -> None:
    """Release, waiting out PIM's 5-minute floor on the emulator's clock if needed."""
    if grant is None or grant.reused:
        return
    result = provider.release(grant, resolved, ctx)
    if result.outcome is ReleaseOutcome.TOO_EARLY:
        emu.advance(301)
        result = provider.release(grant, resolved, ctx)
    assert result.outcome in (ReleaseOutcome.RELEASED, ReleaseOutcome.ALREADY_GONE), result


@pytest.fixture(autouse=True)
def _nothing_left_granted(control: Any) -> Iterator[None]:
    """Every test must release what it granted: no active or scheduled PIM assignment may remain."""
    yield
    left = [s for s in state(control)["graph"]["schedules"] if s["level"] == "assignment" and s["state"] != "ended"]
    assert left == [], f"grants left in the emulator: {left}"


@pytest.fixture(name="provider")
def _provider() -> Provider:
    return get_provider("entra-role")


# resolve and policy --------------------------------------------------------------------------------------
def test_registry_builds_this_provider(provider: Provider) -> None:
    assert isinstance(provider, GraphDirectoryRoleProvider)
    assert provider.kind == "entra-role"


def test_resolve_by_name_and_by_id_with_cached_lookups(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    by_name = provider.resolve(target(), ctx)
    assert (by_name.role_id, by_name.role_name, by_name.scope) == (APP_ADMIN, "Application Administrator", "/")
    assert by_name.principal_id == fresh_emu.info["principals"]["ci-app"]["object_id"]
    assert by_name.tenant_id == fresh_emu.info["tenant_id"]

    calls = ctx.graph.counter.total
    by_id = provider.resolve(target(APP_ADMIN), ctx)
    again = provider.resolve(target("application administrator"), ctx)
    assert by_id.role_name == "Application Administrator" and again.role_id == APP_ADMIN
    assert ctx.graph.counter.total == calls  # both answered from ctx.cache

    with pytest.raises(UsageError, match="no directory role") as caught:
        provider.resolve(target("Chief Button Presser"), ctx)
    assert caught.value.target and "Chief Button Presser" in caught.value.target


def test_read_policy_direct_mode_reads_the_admin_assignment_rules(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    policy = provider.read_policy(provider.resolve(target(), ctx), ctx)
    assert policy.max_duration == timedelta(hours=8)
    assert policy.max_admin_duration == timedelta(days=180)
    assert policy.limit_for(Mode.DIRECT) == timedelta(days=180)
    assert policy.require_justification and not policy.require_mfa and not policy.require_ticket
    assert not policy.require_approval and not policy.allow_permanent
    assert policy.source.startswith("graph:DirectoryRole_")


def test_read_policy_self_mode_reads_the_activation_rules(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    policy = provider.read_policy(provider.resolve(target("Global Administrator"), ctx), ctx)
    assert policy.max_duration == timedelta(hours=2)
    assert policy.require_justification and policy.require_ticket and policy.require_mfa
    assert policy.require_approval and policy.approvers == ("Bob Approver",)


# check -------------------------------------------------------------------------------------------------
def test_check_names_the_rule_pim_refuses(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(justification=None), ctx)
    decision = evaluate(
        resolved.target,
        provider.read_policy(resolved, ctx),
        mode=Mode.DIRECT,
        now=ctx.now(),
        default_duration=timedelta(hours=1),
        has_mfa=False,
    )
    with pytest.raises(PolicyDeniedError) as caught:
        provider.check(resolved, decision, ctx)
    assert caught.value.rules == ["JustificationRule"]
    assert caught.value.target == resolved.describe() and "--justification" in caught.value.hint

    good = provider.resolve(target(), ctx)
    too_long = Decision(
        allowed=True,
        target=good.target,
        mode=Mode.DIRECT,
        requested_duration=timedelta(days=200),
        duration=timedelta(days=200),
        start=ctx.now(),
    )
    with pytest.raises(PolicyDeniedError) as caught:
        provider.check(good, too_long, ctx)
    assert caught.value.rules == ["ExpirationRule"]

    assert provider.check(good, decide(provider, good, ctx), ctx) == []
    assert state(control)["graph"]["requests"] == []  # validation commits nothing


def test_check_refuses_without_permission_or_eligibility(fresh_emu: Emulator, provider: Provider) -> None:
    unprivileged = context(fresh_emu, "payments-api", Mode.DIRECT)
    resolved = provider.resolve(target(APP_ADMIN), context(fresh_emu, "ci-app", Mode.DIRECT))
    resolved = dataclasses.replace(resolved, principal_id=unprivileged.identity.object_id)
    decision = Decision(True, resolved.target, Mode.DIRECT, timedelta(hours=1), timedelta(hours=1), unprivileged.now())
    with pytest.raises(NotEligibleError, match="PermissionScopeNotGranted") as caught:
        provider.check(resolved, decision, unprivileged)
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in caught.value.hint

    alice = context(fresh_emu, "alice", Mode.SELF)
    not_eligible = provider.resolve(target("User Administrator"), alice)
    with pytest.raises(NotEligibleError, match="EligibilityRule"):
        provider.check(not_eligible, decide(provider, not_eligible, alice), alice)


def test_check_in_self_mode_names_mfa_and_ticket(fresh_emu: Emulator, provider: Provider) -> None:
    no_mfa = context(fresh_emu, "alice", Mode.SELF, mfa=False)
    resolved = provider.resolve(target("Global Administrator", ticket="CHG:42"), no_mfa)
    decision = Decision(True, resolved.target, Mode.SELF, timedelta(hours=1), timedelta(hours=1), no_mfa.now())
    with pytest.raises(PolicyDeniedError) as caught:
        provider.check(resolved, decision, no_mfa)
    assert caught.value.rules == ["MfaRule"]

    alice = context(fresh_emu, "alice", Mode.SELF)
    no_ticket = provider.resolve(target("Global Administrator"), alice)
    decision = Decision(True, no_ticket.target, Mode.SELF, timedelta(hours=1), timedelta(hours=1), alice.now())
    with pytest.raises(PolicyDeniedError) as caught:
        provider.check(no_ticket, decision, alice)
    assert caught.value.rules == ["TicketingRule"]


# the lifecycle -------------------------------------------------------------------------------------------
def test_direct_grant_refresh_probe_release(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    me = ctx.identity.object_id
    resolved = provider.resolve(target(), ctx)
    decision = decide(provider, resolved, ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decision, ctx, request_name="6c1f2a57-0b8e-4e3c-9a41-5f8d2b7c9e10")
        assert grant.status is GrantStatus.ACTIVE and grant.api_status == "Provisioned" and not grant.reused
        assert grant.data["request_name"] == "6c1f2a57-0b8e-4e3c-9a41-5f8d2b7c9e10"
        assert grant.data["schedule_id"] == grant.request_id and grant.data["action"] == "adminAssign"
        assert grant.end_at is not None and grant.start_at is not None
        assert grant.end_at - grant.start_at == timedelta(hours=1)
        assert grant.resource_id and grant.resource_id.endswith(f"/{REQUESTS}/{grant.request_id}")
        [request] = [r for r in state(control)["graph"]["requests"] if r["id"] == grant.request_id]
        assert request["action"] == "adminAssign" and request["status"] == "Provisioned"
        assert len(pim_assignments(control, me)) == 1

        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.ACTIVE
        # The role is assigned, but a token issued now does not carry it yet (propagation).
        assert provider.probe(grant, resolved, ctx) is False
        fresh_emu.advance(PROPAGATION_S + 1)
        assert provider.probe(grant, resolved, ctx) is True

        early = provider.release(grant, resolved, ctx)
        assert early.outcome is ReleaseOutcome.TOO_EARLY and early.retry_at is not None
        assert timedelta(minutes=5) < early.retry_at - grant.start_at <= timedelta(minutes=5, seconds=30)
        assert live_schedules(control, me)  # still there

        fresh_emu.advance(301)
        released = provider.release(grant, resolved, ctx)
        assert released.outcome is ReleaseOutcome.RELEASED and "Revoked" in released.detail
        assert live_schedules(control, me) == [] and not any(a["active"] for a in pim_assignments(control, me))
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
        assert provider.probe(grant, resolved, ctx) is False
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_expiry_at_the_source_is_seen_by_refresh_and_release(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx, hours=0.25), ctx, request_name="r-expiry")
        fresh_emu.advance(16 * 60)
        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.EXPIRED
        assert provider.find_existing(resolved, ctx) is None
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_find_existing_reuses_standing_access_but_not_our_own(fresh_emu: Emulator, provider: Provider) -> None:
    admin = context(fresh_emu, "admin-app", Mode.DIRECT)
    standing = provider.find_existing(provider.resolve(target("Privileged Role Administrator"), admin), admin)
    assert standing is not None and standing.reused and standing.status is GrantStatus.ACTIVE
    assert standing.end_at is None and standing.data["assignment_type"] == "Assigned"
    assert standing.request_id and standing.request_id.endswith("-1")  # the assignment's own id
    result = provider.release(standing, provider.resolve(target(PRIVILEGED_ROLE_ADMIN), admin), admin)
    assert result.outcome is ReleaseOutcome.ALREADY_GONE  # never takes back access it did not create
    assert provider.find_existing(provider.resolve(target(PRIVILEGED_ROLE_ADMIN), admin), admin) is not None

    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    assert provider.find_existing(resolved, ctx) is None
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-own")
        own = provider.find_existing(resolved, ctx)
        assert own is not None and not own.reused and own.request_id == grant.request_id
        assert own.data["request_name"] == "r-own"
        other_process = context(fresh_emu, "ci-app", Mode.DIRECT)
        theirs = provider.find_existing(provider.resolve(target(), other_process), other_process)
        assert theirs is not None and theirs.reused and theirs.end_at == grant.end_at
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_lost_response_is_recovered_not_granted_twice(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    me = ctx.identity.object_id
    resolved = provider.resolve(target(), ctx)
    decision = decide(provider, resolved, ctx)
    since = ctx.now() - timedelta(seconds=5)
    control("faults", {"kind": "lost_response", "path": f"{REQUESTS}$", "method": "POST", "count": 1})
    grant = None
    try:
        with pytest.raises(ProviderApiError) as caught:
            provider.grant(resolved, decision, ctx, request_name="r-lost")
        assert caught.value.status == 504 and caught.value.target == resolved.describe()

        grant = provider.recover(resolved, ctx, request_name="r-lost", since=since)
        assert grant is not None and grant.status is GrantStatus.ACTIVE and not grant.reused
        assert grant.data["recovered_by"] == "customData" and grant.data["request_name"] == "r-lost"
        assert provider.recover(resolved, ctx, request_name="someone-else", since=ctx.now()) is None

        # Trying the grant again finds the first attempt instead of failing on RoleAssignmentExists.
        again = provider.grant(resolved, decision, ctx, request_name="r-lost")
        assert again.request_id == grant.request_id and not again.reused

        requests_made = [
            r for r in state(control)["graph"]["requests"] if r["principal_id"] == me and r["action"] == "adminAssign"
        ]
        assert len(requests_made) == 1 and len(live_schedules(control, me)) == 1
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_recover_falls_back_to_action_justification_and_time(fresh_emu: Emulator, provider: Provider) -> None:
    """A service that drops customData: the request is still found by what it asked for and when."""
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    since = ctx.now() - timedelta(seconds=5)
    body = {
        "action": "adminAssign",
        "principalId": resolved.principal_id,
        "roleDefinitionId": resolved.role_id,
        "directoryScopeId": "/",
        "justification": resolved.target.justification,
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    row = ctx.graph.post(f"/v1.0/roleManagement/directory/{REQUESTS}", body).json
    grant = None
    try:
        grant = provider.recover(resolved, ctx, request_name="r-dropped", since=since)
        assert grant is not None and grant.request_id == row["id"]
        assert grant.data["recovered_by"] == "time_window"
        assert provider.recover(resolved, ctx, request_name="r-dropped", since=ctx.now() + timedelta(minutes=1)) is None
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_extend_within_the_policy_and_refused_beyond_it(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-extend")
        longer = Decision(True, resolved.target, Mode.DIRECT, timedelta(hours=3), timedelta(hours=3), ctx.now())
        extended = provider.extend(grant, resolved, longer, ctx)
        assert extended.end_at is not None and grant.end_at is not None and extended.end_at > grant.end_at
        assert abs(extended.end_at - longer.end) < timedelta(seconds=1)
        assert extended.data["extended_by"] and extended.request_id == grant.request_id
        [schedule] = live_schedules(control, ctx.identity.object_id)
        assert datetime.fromisoformat(schedule["end"]) == extended.end_at >= longer.end
        assert provider.refresh(extended, resolved, ctx).end_at == extended.end_at

        too_long = Decision(True, resolved.target, Mode.DIRECT, timedelta(days=181), timedelta(days=181), ctx.now())
        with pytest.raises(PolicyDeniedError) as caught:
            provider.extend(extended, resolved, too_long, ctx)
        assert caught.value.rules == ["ExpirationRule"]
        grant = extended
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


# self mode -----------------------------------------------------------------------------------------------
def test_self_activation_probe_and_deactivation(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    me = ctx.identity.object_id
    resolved = provider.resolve(target(), ctx)
    assert provider.check(resolved, decide(provider, resolved, ctx), ctx) == []
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-alice")
        assert grant.status is GrantStatus.ACTIVE and grant.data["action"] == "selfActivate"
        assert provider.probe(grant, resolved, ctx) is False
        fresh_emu.advance(PROPAGATION_S + 1)
        assert provider.probe(grant, resolved, ctx) is True
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.TOO_EARLY
        fresh_emu.advance(301)
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.RELEASED
        actions = {r["action"] for r in state(control)["graph"]["requests"] if r["principal_id"] == me}
        assert actions == {"selfActivate", "selfDeactivate"} and live_schedules(control, me) == []
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_self_mode_cannot_extend_an_activation(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-self-extend")
        longer = Decision(True, resolved.target, Mode.SELF, timedelta(hours=2), timedelta(hours=2), ctx.now())
        with pytest.raises(Exception, match="does not extend an activation"):
            provider.extend(grant, resolved, longer, ctx)
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def _approve(info: dict[str, Any], request_id: str) -> None:
    token = ControlPlaneUserCredential(info, "bob").get_token("https://graph.microsoft.com/.default").token
    response = requests.patch(
        f"{info['graph']}/beta/roleManagement/directory/roleAssignmentApprovals/{request_id}/steps/{request_id}",
        json={"reviewResult": "Approve", "justification": "incident 42"},
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 204, response.text


def test_approval_gated_activation(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    resolved = provider.resolve(target("Global Administrator", ticket=Ticket("CHG", "42")), ctx)
    decision = decide(provider, resolved, ctx)
    assert decision.needs_approval and provider.check(resolved, decision, ctx) == []
    grant = None
    try:
        grant = provider.grant(resolved, decision, ctx, request_name="r-approval")
        assert grant.status is GrantStatus.PENDING_APPROVAL and grant.api_status == "PendingApproval"
        assert grant.data["approval_id"] == grant.request_id
        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.PENDING_APPROVAL
        fresh_emu.advance(60)
        _approve(fresh_emu.info, str(grant.request_id))
        grant = provider.refresh(grant, resolved, ctx)
        assert grant.status is GrantStatus.ACTIVE and grant.data["request_name"] == "r-approval"
        assert grant.start_at is not None and grant.start_at > decision.start  # the window starts at approval
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_releasing_a_pending_request_cancels_it(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    resolved = provider.resolve(target("Global Administrator", ticket="CHG:43"), ctx)
    grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-cancel")
    try:
        result = provider.release(grant, resolved, ctx)
        assert result.outcome is ReleaseOutcome.RELEASED and "canceled" in result.detail
        [request] = [r for r in state(control)["graph"]["requests"] if r["id"] == grant.request_id]
        assert request["status"] == "Canceled"
        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.CANCELED
    finally:
        release_for_good(fresh_emu, provider, provider.refresh(grant, resolved, ctx), resolved, ctx)


# eligible ------------------------------------------------------------------------------------------------
def test_eligible_lists_the_callers_eligibilities(fresh_emu: Emulator, provider: Provider) -> None:
    targets = provider.eligible(context(fresh_emu, "alice", Mode.SELF))
    assert {(t.kind.value, t.role, t.scope) for t in targets} == {
        ("entra-role", "Application Administrator", "/"),
        ("entra-role", "Global Administrator", "/"),
    }
    assert provider.eligible(context(fresh_emu, "ci-app", Mode.DIRECT)) == []


def test_scheduled_grant_starts_later_and_can_be_released_before(
    fresh_emu: Emulator, provider: Provider, control: Any
) -> None:
    """A maintenance window (`--start` ahead): Granted now, Provisioned when the emulated clock gets there."""
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    start = ctx.now() + timedelta(hours=2)
    resolved = provider.resolve(target(start=start), ctx)
    decision = decide(provider, resolved, ctx)
    assert decision.start == start
    grant = None
    try:
        grant = provider.grant(resolved, decision, ctx, request_name="r-window")
        assert grant.status is GrantStatus.SCHEDULED and grant.api_status == "Granted"
        assert grant.start_at is not None and abs(grant.start_at - start) < timedelta(seconds=1)
        assert provider.find_existing(resolved, ctx) is None  # instances show what holds now
        fresh_emu.advance(2 * 3600 + 1)
        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.ACTIVE
        assert len(pim_assignments(control, ctx.identity.object_id)) == 1
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_release_before_a_scheduled_start(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(start=ctx.now() + timedelta(hours=1)), ctx)
    grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="r-window-2")
    try:
        assert grant.status is GrantStatus.SCHEDULED
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.RELEASED
        assert live_schedules(control, ctx.identity.object_id) == []
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)
