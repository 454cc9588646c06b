"""`jitpim doctor`: does this identity hold exactly what jitpim needs for a mode and target kind?

It reads what the identity really holds, the way the APIs will judge it: the `roles` (application
permissions) or `scp` (delegated scopes) claim of a fresh Graph token, and ARM's effective `permissions` at the
target's scope plus the role assignments (and their ABAC conditions) behind them. Each right from the
permissions table (`jitpim.model.permissions`) that is missing, and each held right that is more than needed
(a Graph permission that can grant anything, a role-assignment right without a condition, any Azure right in
broker mode), becomes a finding with the command that fixes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import JitError
from ..model.permissions import DANGEROUS_GRAPH, GRAPH_APP_ID, GRAPH_PERMISSION_IDS, Kind, Mode, Need, needs
from ..providers._arm import action_matches, caller_permissions, permits
from ..providers.base import ProviderContext

__all__ = ["Finding", "Status", "check_estate"]

_ARM_API = "2022-04-01"
_ROLE_ASSIGNMENT_WRITES = ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/*", "*")


class Status(StrEnum):
    OK = "ok"
    MISSING = "missing"
    EXCESSIVE = "excessive"
    UNKNOWN = "unknown"  # could not be read; the detail says why


@dataclass(frozen=True)
class Finding:
    status: Status
    api: str
    name: str
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "api": self.api, "name": self.name, "detail": self.detail, "fix": self.fix}


@dataclass
class _Checked:
    findings: list[Finding] = field(default_factory=list)

    def add(self, *items: Finding) -> None:
        self.findings.extend(items)


def _graph_add_fix(app_id: str | None, name: str) -> str:
    who = app_id or "<app id>"
    permission = GRAPH_PERMISSION_IDS.get(name)
    lookup = permission or (f"$(az ad sp show --id {GRAPH_APP_ID} --query \"appRoles[?value=='{name}'].id\" -o tsv)")
    return (
        f"az ad app permission add --id {who} --api {GRAPH_APP_ID} --api-permissions {lookup}=Role && "
        f"az ad app permission admin-consent --id {who}"
    )


def _graph_remove_fix(app_id: str | None, name: str) -> str:
    permission = GRAPH_PERMISSION_IDS.get(name) or (
        f"$(az ad sp show --id {GRAPH_APP_ID} --query \"appRoles[?value=='{name}'].id\" -o tsv)"
    )
    return (
        f"az ad app permission delete --id {app_id or '<app id>'} --api {GRAPH_APP_ID} --api-permissions {permission}"
    )


def _granted_graph(ctx: ProviderContext) -> tuple[set[str], str]:
    claims = ctx.fresh_claims(ctx.cloud.graph_scope)
    if ctx.identity.is_app:
        return {str(r) for r in claims.get("roles") or []}, "app"
    return set(str(claims.get("scp") or "").split()), "delegated"


def _check_graph(ctx: ProviderContext, wanted: Sequence[Need], mode: Mode, out: _Checked) -> None:
    try:
        granted, held_as = _granted_graph(ctx)
    except JitError as exc:
        out.add(Finding(Status.UNKNOWN, "graph", "token", f"cannot read a Graph token's permissions: {exc.message}"))
        return
    app_id = ctx.identity.app_id
    needed = {n.name for n in wanted if n.api == "graph"}
    for need in (n for n in wanted if n.api == "graph"):
        if need.name in granted:
            out.add(Finding(Status.OK, "graph", need.name, need.why))
        elif held_as == "delegated":
            out.add(
                Finding(
                    Status.MISSING,
                    "graph",
                    need.name,
                    f"{need.why}; the sign-in has no such scope",
                    "Sign in again asking for the scope, e.g. `az login --scope https://graph.microsoft.com/"
                    f"{need.name}`, or have an admin consent to it for the client app.",
                )
            )
        else:
            out.add(Finding(Status.MISSING, "graph", need.name, need.why, _graph_add_fix(app_id, need.name)))
    for name in sorted(granted - needed):
        too_much = mode == "broker" or name in DANGEROUS_GRAPH or ".ReadWrite." in name or ".Remove." in name
        if too_much and held_as == "app":
            why = (
                "in broker mode the CI identity should hold no Graph permission"
                if mode == "broker"
                else "more than jitpim needs; it lets this identity change access beyond its own time-bound grants"
            )
            out.add(Finding(Status.EXCESSIVE, "graph", name, why, _graph_remove_fix(app_id, name)))


def _assignments(ctx: ProviderContext, scope: str) -> list[dict[str, Any]]:
    flt = f"assignedTo('{ctx.identity.object_id}')"
    path = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments"
    return list(ctx.arm.paged(path, {"$filter": flt, "api-version": _ARM_API}))


def _role_actions(ctx: ProviderContext, role_definition_id: str) -> list[str]:
    body = ctx.arm.get(role_definition_id, params={"api-version": _ARM_API}).json or {}
    perms = (body.get("properties") or {}).get("permissions") or []
    return [str(a) for p in perms for a in p.get("actions") or []]


def _check_arm(ctx: ProviderContext, wanted: Sequence[Need], mode: Mode, scope: str, out: _Checked) -> None:
    try:
        entries = caller_permissions(ctx, scope)
    except JitError as exc:
        out.add(
            Finding(
                Status.UNKNOWN,
                "arm",
                scope,
                f"cannot read the effective permissions here: {exc.message}",
                "The scope must exist and the identity must be able to read it (any role at the scope).",
            )
        )
        return
    oid = ctx.identity.object_id
    for need in (n for n in wanted if n.api == "arm"):
        if permits(entries, need.name):
            out.add(Finding(Status.OK, "arm", need.name, need.why))
            continue
        role = (
            "PIM Assignment Requester (a custom role)"
            if "Schedule" in need.name or "Management" in need.name
            else ("Role Based Access Control Administrator")
        )
        fix = (
            f"az role assignment create --assignee-object-id {oid} --assignee-principal-type ServicePrincipal "
            f'--role "{role}" --scope {scope}'
        )
        if need.condition:
            fix += ' --condition "<ABAC condition: ' + need.condition + '>" --condition-version 2.0'
        out.add(Finding(Status.MISSING, "arm", need.name, need.why, fix))
    # What the identity can do with role assignments, and whether a condition narrows it.
    try:
        assignments = _assignments(ctx, scope)
    except JitError as exc:
        out.add(
            Finding(Status.UNKNOWN, "arm", "roleAssignments", f"cannot list the identity's assignments: {exc.message}")
        )
        return
    for assignment in assignments:
        props = assignment.get("properties") or {}
        try:
            actions = _role_actions(ctx, str(props.get("roleDefinitionId")))
        except JitError:
            continue
        writes = any(action_matches(a, "Microsoft.Authorization/roleAssignments/write") for a in actions)
        name = f"role assignment {assignment.get('name')} at {props.get('scope')}"
        remove = f"az role assignment delete --ids {assignment.get('id')}"
        if mode == "broker":
            out.add(
                Finding(
                    Status.EXCESSIVE, "arm", name, "in broker mode the CI identity should hold no Azure role", remove
                )
            )
        elif writes and not props.get("condition"):
            out.add(
                Finding(
                    Status.EXCESSIVE,
                    "arm",
                    name,
                    "may assign any role to anyone under this scope (no ABAC condition limits the roles and principal)",
                    f"{remove}  # then re-create it with --condition limiting roles and principal",
                )
            )
        elif any(a in ("*", "Microsoft.Authorization/*") for a in actions) and not props.get("condition"):
            out.add(Finding(Status.EXCESSIVE, "arm", name, "holds every Authorization action at this scope", remove))


def check_estate(ctx: ProviderContext, mode: Mode, kinds: Sequence[Kind], *, scope: str | None = None) -> list[Finding]:
    """Every finding for the calling identity: what it lacks and what it holds beyond need for `kinds`."""
    out = _Checked()
    wanted: list[Need] = []
    for kind in kinds:
        for need in needs(mode, kind):
            if need not in wanted:
                wanted.append(need)
    if mode == "self" and "rbac" in kinds:
        out.add(Finding(Status.UNKNOWN, "arm", "rbac", "plain RBAC has no self mode: a person activates a PIM role"))
    _check_graph(ctx, wanted, mode, out)
    if any(n.api == "arm" for n in wanted) or (mode == "broker" and scope):
        if scope is None:
            out.add(
                Finding(
                    Status.UNKNOWN,
                    "arm",
                    "scope",
                    "the Azure rights are checked at a scope",
                    "Pass --scope with the subscription, resource group or resource id of the target.",
                )
            )
        else:
            _check_arm(ctx, wanted, mode, scope, out)
    return out.findings
