"""roleDefinitions (2022-04-01: list at a scope with `$filter`, GET by id at a scope or tenant level) and the
`permissions` read (the caller's effective actions at a scope).

Role definitions are readable by any signed-in principal of the tenant: the portal, the CLI and jitpim's plan
step resolve role names before the caller holds any role.
"""

from __future__ import annotations

from typing import Any

from ....core.errors import ArmError
from ....core.rbac import RoleDefinition, is_same_or_parent_scope
from ..common.authz import effective_permissions
from ..common.context import Ctx, guid_of, require_scope
from ..common.filters import FilterSpec

__all__ = ["definition", "definitions", "permissions"]

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
