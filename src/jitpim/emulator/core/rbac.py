"""Azure RBAC: built-in role definitions, role assignments, and the access check that ARM and Key Vault share.

A role assignment grants a principal (or a group it is an effective member of) a role on a scope and on
everything below it (subscription > resource group > resource). New assignments take effect only after the
configurable propagation delay, measured on the emulator's clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Rbac", "RoleAssignment", "RoleDefinition", "action_matches", "is_same_or_parent_scope"]


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern).match(action))


def normalize_scope(scope: str) -> str:
    scope = "/" + scope.strip("/")
    return scope if scope != "/" else "/"


def is_same_or_parent_scope(parent: str, child: str) -> bool:
    parent_n = normalize_scope(parent).lower()
    child_n = normalize_scope(child).lower()
    return parent_n == "/" or child_n == parent_n or child_n.startswith(parent_n + "/")


@dataclass
class RoleDefinition:
    id: str
    role_name: str
    description: str
    actions: list[str]
    not_actions: list[str]
    data_actions: list[str]
    not_data_actions: list[str]
    role_type: str = "BuiltInRole"
    assignable_scopes: list[str] = field(default_factory=lambda: ["/"])

    def permits(self, action: str, *, data: bool) -> bool:
        allow, deny = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return any(action_matches(p, action) for p in allow) and not any(action_matches(p, action) for p in deny)

    def to_arm(self, scope: str) -> dict[str, Any]:
        # Read at a resource group or a resource, a definition's id is still the subscription's, as on Azure:
        # that is the id role assignments carry, and the CLI matches role names to assignments by it.
        parts = normalize_scope(scope).strip("/").split("/")
        owner = "/".join(parts[:2]) if len(parts) >= 2 and parts[0].lower() == "subscriptions" else "/".join(parts)
        prefix = f"/{owner}" if owner else ""
        return {
            "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{self.id}",
            "type": "Microsoft.Authorization/roleDefinitions",
            "name": self.id,
            "properties": {
                "roleName": self.role_name,
                "type": self.role_type,
                "description": self.description,
                "assignableScopes": self.assignable_scopes,
                "permissions": [
                    {
                        "actions": self.actions,
                        "notActions": self.not_actions,
                        "dataActions": self.data_actions,
                        "notDataActions": self.not_data_actions,
                    }
                ],
                "createdOn": "2015-02-02T21:55:09.8806423Z",
                "updatedOn": "2024-01-01T00:00:00.0000000Z",
                "createdBy": None,
                "updatedBy": None,
            },
        }


@dataclass
class RoleAssignment:
    name: str  # the GUID in the resource id
    scope: str
    role_definition_id: str  # the role definition GUID
    principal_id: str
    principal_type: str
    created_on: datetime
    created_by: str | None = None
    description: str | None = None
    condition: str | None = None
    condition_version: str | None = None
    # Set when PIM created the assignment: it ends at `end` and links to its schedule.
    end: datetime | None = None
    schedule_id: str | None = None
    updated_on: datetime | None = None

    @property
    def id(self) -> str:
        return (
            f"{normalize_scope(self.scope).rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{self.name}"
        )

    def effective(self, now: datetime, propagation: timedelta) -> bool:
        return self.created_on + propagation <= now and (self.end is None or now < self.end)


def load_builtin_role_definitions() -> dict[str, RoleDefinition]:
    raw = json.loads(resources.files("jitpim.emulator.data").joinpath("azure_roles.json").read_text())
    return {
        r["id"]: RoleDefinition(
            id=r["id"],
            role_name=r["roleName"],
            description=r["description"],
            actions=r["actions"],
            not_actions=r["notActions"],
            data_actions=r["dataActions"],
            not_data_actions=r["notDataActions"],
        )
        for r in raw
    }


class Rbac:
    def __init__(self) -> None:
        self.definitions = load_builtin_role_definitions()
        self.assignments: dict[str, RoleAssignment] = {}  # by lower-cased name GUID
        self.propagation = timedelta(0)

    def definition(self, id_or_name: str) -> RoleDefinition | None:
        key = id_or_name.rsplit("/", 1)[-1].lower()
        found = self.definitions.get(key)
        if found:
            return found
        lowered = id_or_name.lower()
        return next((d for d in self.definitions.values() if d.role_name.lower() == lowered), None)

    def assignments_covering(self, scope: str, principal_ids: set[str] | None = None) -> list[RoleAssignment]:
        """Assignments at `scope` or any parent scope (what `atScope()`/inheritance returns)."""
        return [
            a
            for a in self.assignments.values()
            if is_same_or_parent_scope(a.scope, scope) and (principal_ids is None or a.principal_id in principal_ids)
        ]

    def allowed(self, principal_ids: set[str], scope: str, action: str, *, data: bool, now: datetime) -> bool:
        """The access check: does any effective assignment of these principals grant `action` on `scope`?"""
        for assignment in self.assignments_covering(scope, principal_ids):
            if not assignment.effective(now, self.propagation):
                continue
            definition = self.definitions.get(assignment.role_definition_id.lower())
            if definition and definition.permits(action, data=data):
                return True
        return False
