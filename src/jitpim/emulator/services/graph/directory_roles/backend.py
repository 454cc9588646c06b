"""Directory role assignments outside PIM (standing ones): what holds now, and assigning or removing one, with
Graph's checks and the audit rows Entra writes (a PIM-made assignment is removed through PIM)."""

from __future__ import annotations

from typing import Any

from ....core.directory import DirectoryRoleAssignment
from ....core.ids import is_guid
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import audit_target, initiator
from ..common.errors import bad_request, not_found

__all__ = ["assign", "effective", "unassign"]

_CONFLICT = "A conflicting object with one or more of the specified property values is present in the directory."


def effective(w: World) -> list[DirectoryRoleAssignment]:
    """Assignments in effect now, one per id (a standing and a PIM copy of one grant share the id)."""
    now = w.clock.now()
    seen: dict[str, DirectoryRoleAssignment] = {}
    for a in w.directory.role_assignments:
        if a.active(now) and a.id not in seen:
            seen[a.id] = a
    return list(seen.values())


def _scope(w: World, raw: Any) -> str:
    if raw is None or raw == "/":
        return "/"
    if isinstance(raw, str) and raw.startswith("/") and is_guid(raw[1:]):
        object_id = raw[1:].lower()
        if object_id in w.directory.applications or object_id in w.directory.service_principals:
            return f"/{object_id}"
        raise not_found(object_id)
    raise bad_request(
        f"Invalid value specified for property 'directoryScopeId' of resource 'UnifiedRoleAssignment': '{raw}'."
    )


def _record(w: World, caller: Caller, a: DirectoryRoleAssignment, added: bool) -> None:
    role = w.directory.role_definitions[a.role_definition_id]
    modified = [
        {
            "displayName": "Role.DisplayName",
            "oldValue": None if added else f'"{role.display_name}"',
            "newValue": f'"{role.display_name}"' if added else None,
        },
        {
            "displayName": "Role.TemplateId",
            "oldValue": None if added else f'"{role.id}"',
            "newValue": f'"{role.id}"' if added else None,
        },
    ]
    targets = [audit_target(w, role.id, "Role"), audit_target(w, a.principal_id, modified=modified)]
    who = initiator(w, caller)
    now = w.clock.now()
    w.audit.record(
        when=now,
        activity="Add member to role" if added else "Remove member from role",
        category="RoleManagement",
        operation_type="Assign" if added else "Unassign",
        initiated_by=who,
        targets=targets,
        service="Core Directory",
    )
    if added:
        w.audit.record(
            when=now,
            activity="Add member to role outside of PIM (permanent)",
            category="RoleManagement",
            operation_type="Assign",
            initiated_by=who,
            targets=targets,
            details={"RoleDefinitionOriginId": role.id, "RoleDefinitionOriginType": "BuiltInRole"},
        )


def assign(w: World, caller: Caller, principal_id: str, role_id: str, scope: Any) -> DirectoryRoleAssignment:
    """A standing assignment of the role to the principal (a user, a service principal or a role-assignable
    group) at the directory scope; 400 when an equal one already holds."""
    kind = w.directory.principal_kind(principal_id.lower())
    if kind is None:
        raise not_found(principal_id)
    group = w.directory.groups.get(principal_id.lower())
    if group is not None and not group.is_assignable_to_role:
        raise bad_request("Only groups with isAssignableToRole set to true can be assigned to a directory role.")
    if role_id.lower() not in w.directory.role_definitions:
        raise not_found(role_id)
    now = w.clock.now()
    assignment = DirectoryRoleAssignment(
        principal_id=principal_id.lower(),
        role_definition_id=role_id.lower(),
        directory_scope_id=_scope(w, scope),
        start=now,
        end=None,
    )
    if any(a.id == assignment.id and (a.end is None or now < a.end) for a in w.directory.role_assignments):
        raise bad_request(_CONFLICT)
    w.directory.role_assignments.append(assignment)
    _record(w, caller, assignment, added=True)
    return assignment


def unassign(w: World, caller: Caller, key: str) -> None:
    """The standing assignment `key` removed; one PIM made must be removed through PIM."""
    now = w.clock.now()
    live = [a for a in w.directory.role_assignments if a.id == key and (a.end is None or now < a.end)]
    standing = [a for a in live if a.source == "standing"]
    if not standing:
        if live:
            raise bad_request(
                "This role assignment is managed by Privileged Identity Management; remove it "
                "with a roleAssignmentScheduleRequest (action adminRemove or selfDeactivate)."
            )
        raise not_found(key)
    for a in standing:
        w.directory.role_assignments.remove(a)
    _record(w, caller, standing[0], added=False)
