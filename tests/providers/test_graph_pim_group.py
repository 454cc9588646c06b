"""The `pim-group` provider against the emulated Graph over HTTPS: group by name or id, the group's policy,
PIM's validation (group-style rule messages), grant -> probe (membership appears after provisioning) ->
release (5-minute floor), reuse of a standing ownership, lost responses, extend, self activation, eligibility.
Every test releases what it granted (in a finally) and checks the emulator's state after the fact.

The emulator here takes 20 s to provision a PIM grant into the directory, so "granted but not yet a member"
is observable without racing the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario
from jitpim.errors import NotEligibleError, PolicyDeniedError, ProviderApiError, UsageError
from jitpim.model import Decision, GroupAccess, Mode, Target, evaluate
from jitpim.providers import Grant, GrantStatus, Provider, ProviderContext, ReleaseOutcome, ResolvedTarget, get_provider
from jitpim.providers.graph_pim_group import GraphPimGroupProvider
from jitpim.testing import emulator_provider_context

GROUP_ID = "b4c5d6e7-f809-4125-a687-a2b3c4d5e6f7"
GROUP_NAME = "Key Vault Operators"
PROVISIONING_S = 20
REQUESTS = "assignmentScheduleRequests"


# fixtures and helpers ------------------------------------------------------------------------------------
@pytest.fixture(name="emu", scope="module")
def _emu() -> Iterator[Emulator]:
    """This module's emulator: the default scenario with a 20 s provisioning lag for PIM grants."""
    scenario = default_scenario()
    scenario["settings"] = {**(scenario.get("settings") or {}), "provisioning_seconds": PROVISIONING_S}
    emulator = Emulator.start(scenario=scenario)
    try:
        yield emulator
    finally:
        emulator.stop()


def context(emu: Emulator, who: str, mode: Mode, *, mfa: bool = True) -> ProviderContext:
    return emulator_provider_context(emu, who, mode, mfa=mfa)  # type: ignore[no-any-return]


def target(group: str = GROUP_NAME, access: str = "member", **kwargs: Any) -> Target:
    kwargs.setdefault("justification", "rotate kv-payments secrets")
    return Target.from_flags(kind="pim-group", scope=group, access=access, **kwargs)


def decide(provider: Provider, resolved: ResolvedTarget, ctx: ProviderContext, hours: float = 1) -> Decision:
    decision = evaluate(
        resolved.target,
        provider.read_policy(resolved, ctx),
        mode=ctx.mode,
        now=ctx.now(),
        default_duration=timedelta(hours=hours),
        has_mfa=ctx.identity.has_mfa,
    )
    assert decision.allowed, decision.reasons
    return decision


def state(control: Any) -> dict[str, Any]:
    return dict(control("state", method="GET"))


def memberships(control: Any, principal: str, access: str = "member") -> list[dict[str, Any]]:
    return [
        m
        for m in state(control)["group_memberships"]
        if m["group_id"] == GROUP_ID and m["principal_id"] == principal and m["access"] == access
    ]


def release_for_good(
    emu: Emulator, provider: Provider, grant: Grant | None, resolved: ResolvedTarget, ctx: ProviderContext
) -> None:
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
    return get_provider("pim-group")


# resolve and policy --------------------------------------------------------------------------------------
def test_resolve_group_by_name_and_by_id(fresh_emu: Emulator, provider: Provider) -> None:
    assert isinstance(provider, GraphPimGroupProvider)
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    by_name = provider.resolve(target(), ctx)
    assert (by_name.scope, by_name.scope_name, by_name.role_id) == (GROUP_ID, GROUP_NAME, "member")
    assert by_name.principal_id == ctx.identity.object_id
    owner = provider.resolve(target(GROUP_ID, "owner"), ctx)
    assert (owner.scope_name, owner.role_id, owner.target.access) == (GROUP_NAME, "owner", GroupAccess.OWNER)
    with pytest.raises(UsageError, match="no group named"):
        provider.resolve(target("Nobody's Group"), ctx)
    with pytest.raises(UsageError, match="no group"):
        provider.resolve(target("00000000-0000-4000-8000-000000000000"), ctx)


def test_read_policy_of_the_group(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    policy = provider.read_policy(provider.resolve(target(), ctx), ctx)
    assert policy.max_admin_duration == timedelta(days=180) and policy.max_duration == timedelta(hours=8)
    assert policy.require_justification and not policy.require_mfa and not policy.allow_permanent
    assert policy.source.startswith(f"graph:Group_{GROUP_ID}_")

    alice = context(fresh_emu, "alice", Mode.SELF)
    own = provider.read_policy(provider.resolve(target(), alice), alice)
    assert own.limit_for(Mode.SELF) == timedelta(hours=8) and own.require_justification and not own.require_approval


def test_check_names_the_rule_from_a_group_style_message(fresh_emu: Emulator, provider: Provider) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(justification=None), ctx)
    decision = Decision(True, resolved.target, Mode.DIRECT, timedelta(hours=1), timedelta(hours=1), ctx.now())
    with pytest.raises(PolicyDeniedError) as caught:
        provider.check(resolved, decision, ctx)
    assert caught.value.rules == ["JustificationRule"]

    good = provider.resolve(target(), ctx)
    assert provider.check(good, decide(provider, good, ctx), ctx) == []

    alice = context(fresh_emu, "alice", Mode.SELF)
    not_eligible = provider.resolve(target(access="owner"), alice)
    decision = Decision(True, not_eligible.target, Mode.SELF, timedelta(hours=1), timedelta(hours=1), alice.now())
    with pytest.raises(NotEligibleError, match="EligibilityRule"):
        provider.check(not_eligible, decision, alice)


# the lifecycle -------------------------------------------------------------------------------------------
def test_direct_membership_grant_probe_release(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    me = ctx.identity.object_id
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="g-direct")
        assert grant.status is GrantStatus.ACTIVE and grant.data["action"] == "adminAssign"
        assert grant.data["schedule_id"] == f"{GROUP_ID}_member_{grant.request_id}"
        assert grant.end_at is not None and grant.start_at is not None
        assert grant.end_at - grant.start_at == timedelta(hours=1)
        [membership] = memberships(control, me)
        assert membership["source"] == "pim" and membership["active"] is False  # not provisioned yet

        assert provider.refresh(grant, resolved, ctx).status is GrantStatus.ACTIVE
        assert provider.probe(grant, resolved, ctx) is False
        fresh_emu.advance(PROVISIONING_S + 1)
        assert provider.probe(grant, resolved, ctx) is True

        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.TOO_EARLY
        fresh_emu.advance(301)
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.RELEASED
        assert memberships(control, me) == [] and provider.probe(grant, resolved, ctx) is False
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.ALREADY_GONE
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_ownership_grant_is_probed_through_owners(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(access="owner"), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="g-owner")
        fresh_emu.advance(PROVISIONING_S + 1)
        assert provider.probe(grant, resolved, ctx) is True
        assert memberships(control, ctx.identity.object_id, "owner")[0]["active"] is True
        assert memberships(control, ctx.identity.object_id, "member") == []
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_find_existing_reuses_a_standing_ownership(fresh_emu: Emulator, provider: Provider) -> None:
    admin = context(fresh_emu, "admin-app", Mode.DIRECT)
    existing = provider.find_existing(provider.resolve(target(access="owner"), admin), admin)
    assert existing is not None and existing.reused and existing.data["assignment_type"] == "assigned"
    assert provider.find_existing(provider.resolve(target(), admin), admin) is None

    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="g-reuse")
        assert provider.find_existing(resolved, ctx) is None  # not a member until provisioned
        fresh_emu.advance(PROVISIONING_S + 1)
        own = provider.find_existing(resolved, ctx)
        assert own is not None and not own.reused and own.request_id == grant.request_id
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
            provider.grant(resolved, decision, ctx, request_name="g-lost")
        assert caught.value.status == 504
        grant = provider.recover(resolved, ctx, request_name="g-lost", since=since)
        assert grant is not None and grant.data["recovered_by"] == "customData"
        again = provider.grant(resolved, decision, ctx, request_name="g-lost")
        assert again.request_id == grant.request_id
        made = [r for r in state(control)["graph"]["requests"] if r["principal_id"] == me]
        assert [r["action"] for r in made] == ["adminAssign"] and len(memberships(control, me)) == 1
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_extend_membership_within_the_policy(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "ci-app", Mode.DIRECT)
    resolved = provider.resolve(target(), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="g-extend")
        fresh_emu.advance(PROVISIONING_S + 1)
        longer = Decision(True, resolved.target, Mode.DIRECT, timedelta(hours=2), timedelta(hours=2), ctx.now())
        grant = provider.extend(grant, resolved, longer, ctx)
        assert grant.end_at is not None and abs(grant.end_at - longer.end) < timedelta(seconds=1)
        [membership] = memberships(control, ctx.identity.object_id)
        assert datetime.fromisoformat(membership["end"]) == grant.end_at >= longer.end
        unchanged = provider.extend(grant, resolved, longer, ctx)  # already that long: nothing sent
        assert unchanged == grant
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


# self mode and eligibility -------------------------------------------------------------------------------
def test_self_activation_of_membership(fresh_emu: Emulator, provider: Provider, control: Any) -> None:
    ctx = context(fresh_emu, "alice", Mode.SELF)
    me = ctx.identity.object_id
    resolved = provider.resolve(target(GROUP_ID), ctx)
    grant = None
    try:
        grant = provider.grant(resolved, decide(provider, resolved, ctx), ctx, request_name="g-alice")
        assert grant.status is GrantStatus.ACTIVE and grant.data["action"] == "selfActivate"
        assert provider.probe(grant, resolved, ctx) is False
        fresh_emu.advance(PROVISIONING_S + 1)
        assert provider.probe(grant, resolved, ctx) is True
        fresh_emu.advance(301)
        assert provider.release(grant, resolved, ctx).outcome is ReleaseOutcome.RELEASED
        actions = [r["action"] for r in state(control)["graph"]["requests"] if r["principal_id"] == me]
        assert actions == ["selfActivate", "selfDeactivate"] and memberships(control, me) == []
    finally:
        release_for_good(fresh_emu, provider, grant, resolved, ctx)


def test_eligible_lists_group_eligibilities(fresh_emu: Emulator, provider: Provider) -> None:
    [only] = provider.eligible(context(fresh_emu, "alice", Mode.SELF))
    assert (only.kind.value, only.scope, only.access) == ("pim-group", GROUP_ID, GroupAccess.MEMBER)
    with pytest.raises(ProviderApiError, match="PermissionScopeNotGranted") as caught:
        provider.eligible(context(fresh_emu, "ci-app", Mode.DIRECT))  # ci-app may assign, not read eligibilities
    assert caught.value.target and "pim-group eligibilities" in caught.value.target
    assert provider.eligible(context(fresh_emu, "admin-app", Mode.DIRECT)) == []
