"""The live policy of a target: find it, read its rules, write changed rules back.

Graph (Entra roles, PIM groups): the policy assigned to the role (`scopeType` DirectoryRole, scope `/`) or to
the group's member/owner access (`scopeType` Group); each changed rule is PATCHed on its own
(`/policies/roleManagementPolicies/{id}/rules/{ruleId}`, 204). ARM (Azure roles): the policy assigned to the
role at the scope; one PATCH carries every changed rule.

A refused write changes nothing: Graph rules already written in the same apply are put back as they were
before the error is raised, and ARM's single PATCH is all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import JitError, ProviderApiError, ProviderError
from ..model import Target, TargetKind
from ..providers import get_provider
from ..providers.base import ProviderContext, ResolvedTarget

__all__ = ["LivePolicy", "read_live", "write_rules"]

_GRAPH = "/v1.0"
_ARM_API = "2020-10-01"
_WRITE_RIGHTS = {
    TargetKind.ENTRA_ROLE: "RoleManagementPolicy.ReadWrite.Directory (Graph)",
    TargetKind.PIM_GROUP: "RoleManagementPolicy.ReadWrite.AzureADGroup (Graph)",
    TargetKind.AZURE_ROLE: "Microsoft.Authorization/roleManagementPolicies/write at the scope (ARM)",
}


@dataclass
class LivePolicy:
    target: Target
    resolved: ResolvedTarget
    api: Literal["graph", "arm"]
    policy_id: str
    rules: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return self.resolved.describe()


def _odata(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _graph_policy(ctx: ProviderContext, resolved: ResolvedTarget, scope_id: str, scope_type: str) -> LivePolicy:
    flt = (
        f"scopeId eq {_odata(scope_id)} and scopeType eq {_odata(scope_type)} "
        f"and roleDefinitionId eq {_odata(resolved.role_id)}"
    )
    rows = list(
        ctx.graph.paged(
            f"{_GRAPH}/policies/roleManagementPolicyAssignments", {"$filter": flt, "$expand": "policy($expand=rules)"}
        )
    )
    row = next((r for r in rows if str(r.get("roleDefinitionId", "")).lower() == resolved.role_id.lower()), None)
    if row is None:
        raise ProviderError(
            f"no PIM policy is assigned to {resolved.describe()}",
            hint="Check the role or group name; PIM creates a policy for every role, and for a group on first use.",
            target=resolved.describe(),
        )
    policy = row.get("policy") or {}
    policy_id = str(row.get("policyId") or policy.get("id") or "")
    rules = policy.get("rules")
    if not isinstance(rules, list):
        rules = list(ctx.graph.paged(f"{_GRAPH}/policies/roleManagementPolicies/{policy_id}/rules"))
    return LivePolicy(resolved.target, resolved, "graph", policy_id, [dict(r) for r in rules])


def _arm_policy(ctx: ProviderContext, resolved: ResolvedTarget) -> LivePolicy:
    scope = resolved.scope.rstrip("/")
    path = f"{scope}/providers/Microsoft.Authorization/roleManagementPolicyAssignments"
    items = list(ctx.arm.paged(path, {"api-version": _ARM_API}))
    guid = resolved.role_id.lower()
    match = next(
        (
            i
            for i in items
            if str((i.get("properties") or {}).get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
            == guid
        ),
        None,
    )
    if match is None:
        raise ProviderError(
            f"no PIM policy is assigned to {resolved.describe()}",
            hint="Check the role and the scope (a subscription, resource group or resource id).",
            target=resolved.describe(),
        )
    policy_id = str((match.get("properties") or {}).get("policyId") or "")
    policy = ctx.arm.get(policy_id, params={"api-version": _ARM_API}).json or {}
    rules = (policy.get("properties") or {}).get("rules") or []
    return LivePolicy(resolved.target, resolved, "arm", policy_id, [dict(r) for r in rules])


def read_live(ctx: ProviderContext, target: Target) -> LivePolicy:
    """The policy that governs `target` now, with its rules (names resolved through the target's provider)."""
    resolved = get_provider(target.kind).resolve(target, ctx)
    try:
        if target.kind is TargetKind.ENTRA_ROLE:
            return _graph_policy(ctx, resolved, "/", "DirectoryRole")
        if target.kind is TargetKind.PIM_GROUP:
            return _graph_policy(ctx, resolved, resolved.scope, "Group")
        if target.kind is TargetKind.AZURE_ROLE:
            return _arm_policy(ctx, resolved)
    except ProviderApiError as exc:
        if exc.status == 403:
            raise ProviderError(
                f"not allowed to read the PIM policy of {resolved.describe()}: {exc.message}",
                hint="Reading needs RoleManagementPolicy.Read.Directory / .AzureADGroup (Graph) or "
                "Microsoft.Authorization/roleManagementPolicies/read (ARM).",
                target=resolved.describe(),
            ) from None
        raise
    raise ProviderError(f"{target.kind} targets have no PIM policy", target=resolved.describe())


def _patch_graph_rule(ctx: ProviderContext, policy_id: str, rule: Mapping[str, Any]) -> None:
    ctx.graph.patch(f"{_GRAPH}/policies/roleManagementPolicies/{policy_id}/rules/{rule['id']}", json=dict(rule))


def write_rules(ctx: ProviderContext, live: LivePolicy, rules: Sequence[Mapping[str, Any]]) -> None:
    """Write `rules` to the live policy; on any refusal, leave the policy as it was and raise."""
    if not rules:
        return
    try:
        if live.api == "arm":
            ctx.arm.patch(
                live.policy_id,
                json={"properties": {"rules": [dict(r) for r in rules]}},
                params={"api-version": _ARM_API},
            )
            return
        before = {str(r.get("id")): r for r in live.rules}
        written: list[str] = []
        try:
            for rule in rules:
                _patch_graph_rule(ctx, live.policy_id, rule)
                written.append(str(rule["id"]))
        except JitError:
            for rule_id in reversed(written):  # put back what this apply already changed
                if rule_id in before:
                    try:
                        _patch_graph_rule(ctx, live.policy_id, _graph_shape(before[rule_id]))
                    except JitError:
                        continue  # the error below names the policy; a human must look at it
            raise
    except ProviderApiError as exc:
        right = _WRITE_RIGHTS[live.target.kind]
        if exc.status in (401, 403):
            raise ProviderError(
                f"not allowed to change the PIM policy of {live.describe()}: {exc.message}; nothing was changed",
                hint=f"Updating needs {right}.",
                target=live.describe(),
            ) from None
        raise ProviderError(
            f"the PIM policy of {live.describe()} was not updated: {exc.message}",
            hint="Nothing was changed. Run `jitpim pim-policy diff` to see the live settings.",
            target=live.describe(),
        ) from None


def _graph_shape(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if not k.startswith("@odata.") or k == "@odata.type"}
