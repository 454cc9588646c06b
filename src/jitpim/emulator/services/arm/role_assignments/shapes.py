"""The wire shape of a role assignment (2022-04-01)."""

from __future__ import annotations

from typing import Any

from ....core.clock import format_time
from ....core.rbac import RoleAssignment
from ....core.world import World
from ..common.context import parse_scope, role_definition_id

__all__ = ["role_assignment_to_arm"]


def role_assignment_to_arm(world: World, assignment: RoleAssignment) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "name": assignment.name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_definition_id(assignment.scope, assignment.role_definition_id),
            "principalId": assignment.principal_id,
            "principalType": assignment.principal_type,
            "scope": parse_scope(world, assignment.scope).path,
            "condition": assignment.condition,
            "conditionVersion": assignment.condition_version,
            "createdOn": format_time(assignment.created_on),
            "updatedOn": format_time(assignment.updated_on or assignment.created_on),
            "createdBy": assignment.created_by,
            "updatedBy": assignment.created_by,
            "delegatedManagedIdentityResourceId": None,
            "description": assignment.description,
        },
    }
