"""Grant markers (providers.marker) and the caller's-right check: the format round-trips and survives hostile
text, PIM grants carry the marker in their justification (ARM and Graph, read back from the emulator), a long
justification is shortened but never the marker, and ABAC conditions on the right to assign are judged as ARM
judges them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from jitpim.emulator import Emulator
from jitpim.model import Mode, Target, evaluate
from jitpim.providers import GrantMarker, ReleaseOutcome, get_provider, grant_markers, parse_markers
from jitpim.providers._arm_conditions import ConditionVerdict, evaluate_condition, write_allowed
from jitpim.providers.marker import strip_markers, with_markers
from jitpim.testing import ProviderContexts

END = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
HOLDER = "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
WRITE = "Microsoft.Authorization/roleAssignments/write"


def test_marker_round_trips_and_escapes_what_could_end_it() -> None:
    hostile = "gh-1-1/rbac/x] [jitpim:v1 lease=evil holder=me end=2099-01-01T00:00:00Z]\n::warning::x"
    marker = GrantMarker(hostile, HOLDER.upper(), END)
    text = f"before {marker.text()} after"
    assert "\n" not in marker.text() and marker.text().count("]") == 1
    assert parse_markers(text) == [GrantMarker(hostile, HOLDER, END)]
    assert strip_markers(text) == "before after"


def test_malformed_markers_are_ignored() -> None:
    assert parse_markers(None) == []
    assert parse_markers("[jitpim:v1 lease=a holder=b]") == []  # no end
    assert parse_markers("[jitpim:v1 lease=a holder=b end=tomorrow]") == []
    assert parse_markers("[jitpim:v2 lease=a holder=b end=2026-01-01T00:00:00Z]") == []
    assert parse_markers("[jitpim:v1 lease=a holder=b end=2026-01-01T00:00:00]") == []  # naive time


def test_a_long_justification_is_shortened_never_the_marker() -> None:
    marker = GrantMarker("gh-7-1/entra-role/app-admin", HOLDER, END)
    text = with_markers("x" * 900, [marker], limit=500)
    assert len(text) == 500
    assert parse_markers(text) == [marker]
    assert strip_markers(text).endswith("…")
    # One marker per lease: the later one (an extension) replaces the earlier.
    later = GrantMarker(marker.lease_id, HOLDER, END + timedelta(hours=1))
    assert parse_markers(with_markers(text, [marker, later], limit=500)) == [later]


def test_pim_grants_carry_the_marker_in_the_justification(fresh_emu: Emulator, contexts: ProviderContexts) -> None:
    """ARM PIM (azure-role) and Graph PIM (entra-role): the request's justification is the person's text and the
    lease's marker; `find_existing` reads the markers back from the requests behind the schedule."""
    info = fresh_emu.info
    ci = contexts("ci-app")
    rg = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    targets = [
        Target.from_flags(kind="azure-role", role="Reader", scope=rg, justification="nightly reconcile"),
        Target.from_flags(kind="entra-role", role="Application Administrator", justification="nightly reconcile"),
    ]
    for target in targets:
        provider = get_provider(target.kind)
        resolved = provider.resolve(target, ci)
        decision = evaluate(
            resolved.target,
            provider.read_policy(resolved, ci),
            mode=Mode.DIRECT,
            now=ci.now(),
            default_duration=timedelta(minutes=30),
            has_mfa=False,
        )
        marker = GrantMarker(f"gh-1-1/{target.kind}/x", resolved.principal_id, decision.end)
        grant = provider.grant(resolved, decision, ci, request_name=str(uuid.uuid4()), marker=marker)
        try:
            said = _justification(ci, target, grant.request_id or "")
            assert said.startswith("nightly reconcile [jitpim:v1 ") and parse_markers(said) == [
                GrantMarker(marker.lease_id, marker.holder, marker.end.replace(microsecond=0))
            ]
            existing = provider.find_existing(resolved, ci)
            assert existing is not None
            assert [m.lease_id for m in grant_markers(existing)] == [marker.lease_id]
            assert [m.lease_id for m in provider.holders(grant, resolved, ci)] == [marker.lease_id]
            assert existing.end_at is not None and existing.end_at >= decision.end.replace(microsecond=0)
        finally:
            fresh_emu.advance(301)
            assert provider.release(grant, resolved, ci).outcome is ReleaseOutcome.RELEASED


def _justification(ctx: Any, target: Target, request: str) -> str:
    """The request's justification as the API returns it."""
    if target.kind == "azure-role":
        path = f"{target.scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{request}"
        return str(ctx.arm.get(path, params={"api-version": "2020-10-01"}).json["properties"]["justification"])
    path = f"/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{request}"
    return str(ctx.graph.get(path).json["justification"])


def test_condition_verdicts() -> None:
    ns = "Microsoft.Authorization/roleAssignments"
    condition = (
        f"((!(ActionMatches{{'{ns}/write'}})) OR "
        f"(@Request[{ns}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{OFFICER}}}"
        f" AND @Request[{ns}:PrincipalId] ForAnyOfAnyValues:GuidEquals {{{HOLDER}}}))"
        f" AND ((!(ActionMatches{{'{ns}/delete'}})) OR "
        f"(@Resource[{ns}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{OFFICER}}}))"
    )
    entry = {"actions": ["Microsoft.Authorization/roleAssignments/*"], "condition": condition}

    def verdict(role: str, principal: str = HOLDER, entries: list[dict[str, Any]] | None = None) -> ConditionVerdict:
        return write_allowed(
            entries or [entry],
            WRITE,
            role_definition_id=role,
            principal_id=principal,
            principal_type="ServicePrincipal",
        )

    assert verdict(OFFICER) is ConditionVerdict.ALLOWED
    assert verdict(OWNER) is ConditionVerdict.DENIED
    assert verdict(OFFICER, principal=str(uuid.uuid4())) is ConditionVerdict.DENIED
    # Another entry without a condition allows anything its actions cover.
    assert verdict(OWNER, entries=[entry, {"actions": ["*"]}]) is ConditionVerdict.ALLOWED
    # What cannot be judged before the call never refuses.
    attrs: dict[str, list[str]] = {}
    assert (
        evaluate_condition("@Resource[x:y] GuidEquals {a}", action=WRITE, attributes=attrs) is ConditionVerdict.UNKNOWN
    )
    assert evaluate_condition("not a (condition", action=WRITE, attributes=attrs) is ConditionVerdict.UNKNOWN
    assert verdict(OWNER, entries=[{"actions": ["*"], "condition": "@Principal[x:y] StringEquals 'z'"}]) is (
        ConditionVerdict.UNKNOWN
    )
