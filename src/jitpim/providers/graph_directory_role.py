"""`entra-role`: a Microsoft Entra directory role through Graph PIM (`/roleManagement/directory`).

    resolve      role by display name or (template) id via `roleDefinitions`; scope `/`, `/administrativeUnits/{id}`
                 or `/{object id}`; the principal is the caller (`ctx.identity.object_id`)
    read_policy  the role's policy (`roleManagementPolicyAssignments`, scope `/`, type `DirectoryRole`)
    probe        the role shows in `roleAssignments` for the principal AND, for a tenant-wide built-in role held
                 by the caller itself, a freshly issued token's `wids` claim carries the role's template id:
                 that is when Entra authorizes with it (tokens carry the roles held when they were issued)

Everything else (check, grant, recover, refresh, find_existing, release, extend, eligible) is the shared
Graph PIM flow in `_graph_pim.py`. Reference: docs/reference/target-kinds-graph.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ProviderApiError, UsageError
from ..model import PolicyView, Target, TargetKind
from ._graph import V1, annotate, odata_literal, policy_view, read_policy_rules, role_definition
from ._graph_pim import GraphPimProvider
from .base import Grant, ProviderContext, ResolvedTarget

__all__ = ["GraphDirectoryRoleProvider"]

_TENANT = "/"


def _same(a: Any, b: str) -> bool:
    return str(a or "").lower() == b.lower()


class GraphDirectoryRoleProvider(GraphPimProvider):
    kind: ClassVar[TargetKind] = TargetKind.ENTRA_ROLE
    base_path: ClassVar[str] = "/roleManagement/directory"
    requests_set: ClassVar[str] = "roleAssignmentScheduleRequests"
    instances_set: ClassVar[str] = "roleAssignmentScheduleInstances"
    eligibility_instances_set: ClassVar[str] = "roleEligibilityScheduleInstances"
    eligibility_schedules_set: ClassVar[str] = "roleEligibilitySchedules"
    instance_schedule_key: ClassVar[str] = "roleAssignmentScheduleId"
    permission_hint: ClassVar[str] = (
        "Grant the identity the Microsoft Graph permission RoleAssignmentSchedule.ReadWrite.Directory "
        "(application permission for a CI identity, delegated for a person) and admin-consent it."
    )

    # resolve / policy -----------------------------------------------------------------------------------
    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        definition = role_definition(ctx, target.role, target=target.describe())
        scope = target.scope or _TENANT
        return ResolvedTarget(
            target=target,
            role_id=str(definition["id"]),
            role_name=str(definition.get("displayName") or definition["id"]),
            scope=scope,
            scope_name="the tenant (/)" if scope == _TENANT else scope,
            principal_id=ctx.identity.object_id,
            tenant_id=ctx.identity.tenant_id,
        )

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView:
        # Directory role policies are per role and always at scope "/", whatever scope the request names.
        rules, source = read_policy_rules(
            ctx,
            scope_id=_TENANT,
            scope_type="DirectoryRole",
            role_definition_id=resolved.role_id,
            target=resolved.describe(),
        )
        return policy_view(rules, ctx.mode, source)

    # probe ----------------------------------------------------------------------------------------------
    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        described = resolved.describe()
        try:
            rows = ctx.graph.paged(
                f"{V1}/roleManagement/directory/roleAssignments",
                {"$filter": f"principalId eq {odata_literal(resolved.principal_id)}"},
            )
            assigned = any(
                _same(r.get("roleDefinitionId"), resolved.role_id) and _same(r.get("directoryScopeId"), resolved.scope)
                for r in rows
            )
        except ProviderApiError as exc:
            raise annotate(
                exc, described, "Probing needs RoleManagement.Read.Directory (or Directory.Read.All)."
            ) from None
        if not assigned:
            return False
        # `wids` lists tenant-wide built-in roles only, and only the caller's own token can be inspected.
        if resolved.scope != _TENANT or not _same(resolved.principal_id, ctx.identity.object_id):
            return True
        definition = role_definition(ctx, resolved.role_id, target=described)
        if definition.get("isBuiltIn") is False:
            return True
        template = str(definition.get("templateId") or resolved.role_id).lower()
        wids = ctx.fresh_claims(ctx.cloud.graph_scope).get("wids") or []
        return isinstance(wids, list) and template in {str(w).lower() for w in wids}

    # the shared flow's hooks ----------------------------------------------------------------------------
    def target_fields(self, resolved: ResolvedTarget) -> dict[str, Any]:
        return {"roleDefinitionId": resolved.role_id, "directoryScopeId": resolved.scope}

    def resolved_from_row(self, row: dict[str, Any], ctx: ProviderContext) -> ResolvedTarget:
        role = str(row.get("roleDefinitionId") or "")
        scope = str(row.get("directoryScopeId") or _TENANT)
        return ResolvedTarget(
            target=Target.from_flags(kind=self.kind, role=role, scope=scope),
            role_id=role,
            role_name=role,
            scope=scope,
            scope_name="the tenant (/)" if scope == _TENANT else scope,
            principal_id=str(row.get("principalId") or ctx.identity.object_id),
            tenant_id=ctx.identity.tenant_id,
        )

    def principal_filter(self, resolved: ResolvedTarget) -> str:
        return (
            f"principalId eq {odata_literal(resolved.principal_id)} "
            f"and roleDefinitionId eq {odata_literal(resolved.role_id)}"
        )

    def same_target(self, row: dict[str, Any], resolved: ResolvedTarget) -> bool:
        return (
            _same(row.get("principalId"), resolved.principal_id)
            and _same(row.get("roleDefinitionId"), resolved.role_id)
            and _same(row.get("directoryScopeId") or _TENANT, resolved.scope)
        )

    def eligibility_filter(self, principal_id: str) -> str:
        return f"principalId eq {odata_literal(principal_id)}"

    def eligibility_target(self, row: dict[str, Any], ctx: ProviderContext) -> Target | None:
        role_id = str(row.get("roleDefinitionId") or "")
        if not role_id:
            return None
        definition = role_definition(ctx, role_id, target=f"{self.kind.value} {role_id}")
        try:
            return Target.from_flags(
                kind=self.kind,
                role=str(definition.get("displayName") or role_id),
                scope=str(row.get("directoryScopeId") or _TENANT),
            )
        except UsageError:
            return None  # an app-scoped eligibility (appScopeId): not something jitpim requests
