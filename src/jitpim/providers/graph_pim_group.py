"""`pim-group`: membership or ownership of a group through PIM for Groups
(`/identityGovernance/privilegedAccess/group`).

    resolve      the group by object id or exact display name (`/groups`); the access (`member`/`owner`) is
                 the role id; the principal is the caller (`ctx.identity.object_id`)
    read_policy  the group's policy for that access (`roleManagementPolicyAssignments`, scope = group id,
                 type `Group`, roleDefinitionId = access); a group not yet onboarded to PIM has none, and
                 then the service's defaults apply (the `isValidationOnly` check still asks PIM itself)
    probe        the principal is listed in `/groups/{id}/members` (or `/owners`): PIM has made the
                 membership real in the directory, which is what ARM, Key Vault and Graph authorize with

Everything else is the shared Graph PIM flow in `_graph_pim.py`. Group lists need a `$filter` on `groupId`
and/or `principalId` (without one Graph answers an empty list). Reference: docs/reference/target-kinds-graph.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ProviderApiError, UsageError
from ..model import GroupAccess, PolicyView, Target, TargetKind
from ._graph import V1, access_of, annotate, group_object, odata_literal, policy_view, read_policy_rules
from ._graph_pim import GraphPimProvider
from .base import Grant, ProviderContext, ResolvedTarget

__all__ = ["GraphPimGroupProvider"]


def _same(a: Any, b: str) -> bool:
    return str(a or "").lower() == b.lower()


class GraphPimGroupProvider(GraphPimProvider):
    kind: ClassVar[TargetKind] = TargetKind.PIM_GROUP
    base_path: ClassVar[str] = "/identityGovernance/privilegedAccess/group"
    requests_set: ClassVar[str] = "assignmentScheduleRequests"
    instances_set: ClassVar[str] = "assignmentScheduleInstances"
    eligibility_instances_set: ClassVar[str] = "eligibilityScheduleInstances"
    eligibility_schedules_set: ClassVar[str] = "eligibilitySchedules"
    instance_schedule_key: ClassVar[str] = "assignmentScheduleId"
    permission_hint: ClassVar[str] = (
        "Grant the identity the Microsoft Graph permission PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup "
        "(application permission for a CI identity, delegated for a person) and admin-consent it."
    )

    # resolve / policy -----------------------------------------------------------------------------------
    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        group = group_object(ctx, target.scope, target=target.describe())
        access: GroupAccess = target.access or access_of(target.role)
        return ResolvedTarget(
            target=target,
            role_id=access.value,
            role_name=access.value,
            scope=str(group["id"]),
            scope_name=str(group.get("displayName") or group["id"]),
            principal_id=ctx.identity.object_id,
            tenant_id=ctx.identity.tenant_id,
        )

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView:
        try:
            rules, source = read_policy_rules(
                ctx,
                scope_id=resolved.scope,
                scope_type="Group",
                role_definition_id=resolved.role_id,
                target=resolved.describe(),
            )
        except ProviderApiError as exc:
            if exc.code != "PolicyNotFound":
                raise
            return PolicyView(source=f"graph: no PIM policy for group {resolved.scope} yet (service defaults)")
        return policy_view(rules, ctx.mode, source)

    # probe ----------------------------------------------------------------------------------------------
    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        relation = "owners" if access_of(resolved.role_id) is GroupAccess.OWNER else "members"
        try:
            return any(
                _same(row.get("id"), resolved.principal_id)
                for row in ctx.graph.paged(f"{V1}/groups/{resolved.scope}/{relation}")
            )
        except ProviderApiError as exc:
            raise annotate(exc, resolved.describe(), "Probing needs GroupMember.Read.All or Group.Read.All.") from None

    # the shared flow's hooks ----------------------------------------------------------------------------
    def target_fields(self, resolved: ResolvedTarget) -> dict[str, Any]:
        return {"groupId": resolved.scope, "accessId": resolved.role_id}

    def resolved_from_row(self, row: dict[str, Any], ctx: ProviderContext) -> ResolvedTarget:
        group = str(row.get("groupId") or "")
        access = access_of(str(row.get("accessId") or "member"))
        return ResolvedTarget(
            target=Target.from_flags(kind=self.kind, scope=group, access=access),
            role_id=access.value,
            role_name=access.value,
            scope=group,
            scope_name=group,
            principal_id=str(row.get("principalId") or ctx.identity.object_id),
            tenant_id=ctx.identity.tenant_id,
        )

    def principal_filter(self, resolved: ResolvedTarget) -> str:
        return f"groupId eq {odata_literal(resolved.scope)} and principalId eq {odata_literal(resolved.principal_id)}"

    def same_target(self, row: dict[str, Any], resolved: ResolvedTarget) -> bool:
        return (
            _same(row.get("groupId"), resolved.scope)
            and _same(row.get("principalId"), resolved.principal_id)
            and _same(row.get("accessId"), resolved.role_id)
        )

    def eligibility_filter(self, principal_id: str) -> str:
        return f"principalId eq {odata_literal(principal_id)}"

    def eligibility_target(self, row: dict[str, Any], ctx: ProviderContext) -> Target | None:
        group_id = str(row.get("groupId") or "")
        if not group_id:
            return None
        try:
            return Target.from_flags(kind=self.kind, scope=group_id, access=str(row.get("accessId") or "member"))
        except UsageError:
            return None
