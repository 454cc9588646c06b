"""roleDefinitions (2022-04-01: list at a scope with `$filter`, GET by id at a scope or tenant level) and the
`permissions` read (the caller's effective actions at a scope).

Role definitions are readable by any signed-in principal of the tenant: the portal, the CLI and jitpim's plan
step resolve role names before the caller holds any role.
"""

from __future__ import annotations

from typing import Any

from ....core.errors import ArmError
from ....core.rbac import RoleDefinition, is_same_or_parent_scope
from ..common.authz import authorize, effective_permissions
from ..common.context import Ctx, guid_of, parse_scope, require_scope
from ..common.filters import FilterSpec

__all__ = ["definition", "definitions", "permissions", "put"]

_FILTER = FilterSpec(
    frozenset({"rolename", "type"}),
    "Supported filters are either roleName eq '{value}' or type eq 'BuiltInRole|CustomRole'.",
    combinations=(),
)


def _usable_at(definition: RoleDefinition, scope: str) -> bool:
    if definition.role_type == "BuiltInRole" or scope == "/":
        return True
    return any(is_same_or_parent_scope(s, scope) for s in definition.assignable_scopes)


def definitions(ctx: Ctx) -> list[RoleDefinition]:
    terms = _FILTER.check(ctx.filter)
    require_scope(ctx.world, ctx.scope)
    items: list[RoleDefinition] = []
    for definition in ctx.world.rbac.definitions.values():
        if not _usable_at(definition, ctx.scope.path):
            continue
        if any(t.name == "rolename" and (t.value or "").lower() != definition.role_name.lower() for t in terms):
            continue
        if any(t.name == "type" and (t.value or "").lower() != definition.role_type.lower() for t in terms):
            continue
        items.append(definition)
    return items


def definition(ctx: Ctx) -> RoleDefinition:
    require_scope(ctx.world, ctx.scope)
    guid = guid_of(ctx.names[0])
    definition = ctx.world.rbac.definitions.get(guid) if guid else None
    if definition is None or not _usable_at(definition, ctx.scope.path):
        raise ArmError(
            404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{ctx.names[0]}' does not exist."
        )
    return definition


def permissions(ctx: Ctx) -> list[dict[str, Any]]:
    """The caller's effective actions at the scope, in the `permissions` list's shape."""
    require_scope(ctx.world, ctx.scope)
    return effective_permissions(ctx.world, ctx.caller.object_id, ctx.scope.path, ctx.now)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArmError(400, "InvalidRoleDefinition", f"The role definition's '{what}' must be a list of strings.")
    return list(value)


def put(ctx: Ctx) -> tuple[RoleDefinition, bool]:
    """Create or update a custom role (201 / 200). The caller needs
    `Microsoft.Authorization/roleDefinitions/write` at every assignable scope; built-in roles cannot change and a
    role name is unique in the tenant."""
    world = ctx.world
    require_scope(world, ctx.scope)
    guid = guid_of(ctx.names[0])
    if guid is None:
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{ctx.names[0]}' is not valid.")
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRoleDefinition", "The request body must carry a 'properties' object.")
    name = props.get("roleName")
    if not isinstance(name, str) or not name.strip():
        raise ArmError(400, "InvalidRoleDefinition", "The role definition must have a 'roleName'.")
    perms = props.get("permissions") or [{}]
    if not isinstance(perms, list) or not perms or not isinstance(perms[0], dict):
        raise ArmError(400, "InvalidRoleDefinition", "The role definition's 'permissions' must be a list of objects.")
    scopes = _strings(props.get("assignableScopes"), "assignableScopes") or [ctx.scope.path]
    existing = world.rbac.definitions.get(guid)
    if existing is not None and existing.role_type == "BuiltInRole":
        raise ArmError(403, "RoleDefinitionUpdateNotAllowed", "Built-in role definitions cannot be created or updated.")
    clash = next(
        (d for d in world.rbac.definitions.values() if d.role_name.lower() == name.lower() and d.id != guid), None
    )
    if clash is not None:
        raise ArmError(
            409, "RoleDefinitionWithSameNameExists", f"A custom role with the same name '{name}' already exists."
        )
    for scope in scopes:
        require_scope(world, parse_scope(world, scope))
        authorize(world, ctx.caller, scope, "Microsoft.Authorization/roleDefinitions/write", ctx.now)
    definition = RoleDefinition(
        id=guid,
        role_name=name,
        description=str(props.get("description") or ""),
        actions=_strings(perms[0].get("actions"), "actions"),
        not_actions=_strings(perms[0].get("notActions"), "notActions"),
        data_actions=_strings(perms[0].get("dataActions"), "dataActions"),
        not_data_actions=_strings(perms[0].get("notDataActions"), "notDataActions"),
        role_type="CustomRole",
        assignable_scopes=scopes,
    )
    world.rbac.definitions[guid] = definition
    return definition, existing is None
