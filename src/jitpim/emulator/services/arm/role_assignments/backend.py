"""roleAssignments (2022-04-01), what each operation does: PUT, GET, DELETE at a scope or by full id, and list
at a scope (which also serves list_for_subscription / list_for_resource_group / list_for_resource; the handler
pages it 100 at a time with an absolute `nextLink` carrying an opaque `$skiptoken`, as ARM does).

PUT checks, in order: the name is a GUID, the body's ids are well formed, the body's scope (if sent) is the
URL's, the caller may `roleAssignments/write` here with any ABAC condition satisfied for this request, the
scope exists, the role exists and is assignable here, the principal exists (skipped when `principalType` is
sent, as ARM skips the directory lookup then) and has that type, and the name is free or holds the same
assignment; finally the same principal+role+scope under another name is 409 `RoleAssignmentExists`.
"""

from __future__ import annotations

from ....core.errors import ArmError
from ....core.ids import is_guid
from ....core.rbac import RoleAssignment, is_same_or_parent_scope
from ..common.authz import assignment_attributes, authorize
from ..common.context import Ctx, guid_of, parse_scope, require_scope, require_subscription
from ..common.context import role_guid_from_id as role_guid
from ..common.filters import FilterSpec

__all__ = ["delete", "get", "matching", "put"]

_READ = "Microsoft.Authorization/roleAssignments/read"
_WRITE = "Microsoft.Authorization/roleAssignments/write"
_DELETE = "Microsoft.Authorization/roleAssignments/delete"
_FILTER = FilterSpec(
    frozenset({"atscope()", "principalid", "assignedto()"}),
    "Supported filters are either 'atScope()' or 'principalId eq '{value}'' or assignedTo('{value}')'.",
    combinations=(frozenset({"atscope()", "assignedto()"}),),
)
_PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")


def _name(ctx: Ctx) -> str:
    name = ctx.names[0]
    if not is_guid(name):
        raise ArmError(
            400,
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    return name.lower()


def _existing(ctx: Ctx, name: str) -> RoleAssignment | None:
    assignment = ctx.world.rbac.assignments.get(name)
    if assignment is None or assignment.scope.lower() != ctx.scope.path.lower():
        return None
    return assignment


def _attributes(assignment: RoleAssignment) -> dict[str, list[str]]:
    return assignment_attributes(
        assignment.role_definition_id.lower(), assignment.principal_id, assignment.principal_type
    )


def get(ctx: Ctx) -> RoleAssignment:
    require_subscription(ctx.world, ctx.scope)
    name = _name(ctx)
    authorize(ctx.world, ctx.caller, ctx.scope.path, _READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    assignment = _existing(ctx, name)
    if assignment is None:
        raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{ctx.names[0]}' is not found.")
    return assignment


def matching(ctx: Ctx) -> list[RoleAssignment]:
    """The assignments a list returns: at, above and (without `atScope()`) below the scope, then the filter."""
    require_subscription(ctx.world, ctx.scope)
    terms = _FILTER.check(ctx.filter)
    authorize(ctx.world, ctx.caller, ctx.scope.path, _READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    names = {t.name: (t.value or "") for t in terms}
    here = ctx.scope.path
    directory = ctx.world.directory
    items: list[RoleAssignment] = []
    for assignment in ctx.world.rbac.assignments.values():
        above = is_same_or_parent_scope(assignment.scope, here)
        if "atscope()" in names and not above:
            continue
        if not above and not is_same_or_parent_scope(here, assignment.scope):
            continue
        if "principalid" in names and assignment.principal_id.lower() != names["principalid"].lower():
            continue
        if "assignedto()" in names:
            target = guid_of(names["assignedto()"]) or names["assignedto()"]
            if assignment.principal_id not in directory.principal_and_groups(target, ctx.now):
                continue
        items.append(assignment)
    return items


def _bad_content(message: str) -> ArmError:
    return ArmError(
        400, "InvalidRequestContent", f"The request content was invalid and could not be processed: {message}"
    )


def put(ctx: Ctx) -> tuple[RoleAssignment, bool]:
    """The assignment the PUT leaves, and whether it created it (an identical PUT may change only the condition
    and description)."""
    world = ctx.world
    require_subscription(world, ctx.scope)
    name = _name(ctx)
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise _bad_content("the 'properties' object is required.")
    role_raw = str(props.get("roleDefinitionId") or "")
    role = role_guid(role_raw)
    if role is None:
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{role_raw}' is not valid.")
    principal = guid_of(str(props.get("principalId") or ""))
    if principal is None:
        raise ArmError(400, "InvalidPrincipalId", "A valid principal ID must be specified.")
    principal_type = props.get("principalType")
    if principal_type is not None and principal_type not in _PRINCIPAL_TYPES:
        raise _bad_content(f"the principalType '{principal_type}' is not one of {', '.join(_PRINCIPAL_TYPES)}.")
    body_scope = props.get("scope")
    if body_scope and parse_scope(world, str(body_scope)).path.lower() != ctx.scope.path.lower():
        raise ArmError(
            400,
            "InvalidCreateRoleAssignmentRequest",
            f"The request to create role assignment '{ctx.names[0]}' is not valid. Role assignment scope "
            f"'{body_scope}' must match the scope specified on the URI '{ctx.scope.path}'.",
        )
    authorize(
        world,
        ctx.caller,
        ctx.scope.path,
        _WRITE,
        ctx.now,
        request=assignment_attributes(role, principal, principal_type),
    )
    require_scope(world, ctx.scope)
    definition = world.rbac.definitions.get(role)
    if definition is None or not any(is_same_or_parent_scope(s, ctx.scope.path) for s in definition.assignable_scopes):
        raise ArmError(
            400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role}' does not exist."
        )
    actual_type = world.directory.principal_kind(principal)
    if actual_type is None and principal_type is None:
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal.replace('-', '')} does not exist in the directory {world.tenant_id}. Check that "
            "you have the correct principal ID. If you are creating this principal and then immediately assigning "
            "a role, this error might be related to a replication delay. In this case, set the role assignment "
            "principalType property to a value, such as ServicePrincipal, User, or Group. See "
            "https://aka.ms/docs-principaltype",
        )
    if actual_type is not None and principal_type is not None and actual_type != principal_type:
        raise ArmError(
            400,
            "UnmatchedPrincipalType",
            f"The PrincipalId '{principal.replace('-', '')}' has type '{actual_type}', which is different "
            f"from specified PrincipalType '{principal_type}'.",
        )
    condition = props.get("condition") or None
    condition_version = (props.get("conditionVersion") or "2.0") if condition else None
    description = props.get("description")
    current = world.rbac.assignments.get(name)
    if current is not None:
        same = (
            current.scope.lower() == ctx.scope.path.lower()
            and current.principal_id == principal
            and current.role_definition_id.lower() == role
        )
        if not same:
            raise ArmError(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        if (current.condition, current.description) != (condition, description):
            current.condition, current.condition_version = condition, condition_version
            current.description = description
            current.updated_on = ctx.now
        return current, False
    duplicate = next(
        (
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == principal
            and a.role_definition_id.lower() == role
            and a.scope.lower() == ctx.scope.path.lower()
        ),
        None,
    )
    if duplicate is not None:
        raise ArmError(
            409,
            "RoleAssignmentExists",
            "The role assignment already exists. The ID of the existing role "
            f"assignment is {duplicate.name.replace('-', '').lower()}.",
        )
    assignment = RoleAssignment(
        name=name,
        scope=ctx.scope.path,
        role_definition_id=role,
        principal_id=principal,
        principal_type=actual_type or str(principal_type),
        created_on=ctx.now,
        created_by=ctx.caller.object_id,
        description=description,
        condition=condition,
        condition_version=condition_version,
        updated_on=ctx.now,
    )
    world.rbac.assignments[name] = assignment
    return assignment, True


def delete(ctx: Ctx) -> RoleAssignment | None:
    """The assignment deleted, or None when there was none (still a success for a caller who may delete)."""
    require_subscription(ctx.world, ctx.scope)
    name = _name(ctx)
    assignment = _existing(ctx, name)
    if assignment is None:
        # Nothing to delete: ARM answers 204 to anyone who could delete here. With nothing to evaluate a
        # condition against, the condition of a constrained delegation does not apply.
        authorize(ctx.world, ctx.caller, ctx.scope.path, _DELETE, ctx.now, ignore_conditions=True)
        return None
    authorize(ctx.world, ctx.caller, ctx.scope.path, _DELETE, ctx.now, resource=_attributes(assignment))
    del ctx.world.rbac.assignments[name]
    return assignment
