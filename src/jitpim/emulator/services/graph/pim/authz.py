"""Who may call the PIM endpoints, and the error bodies PIM answers when they may not.

Two checks, in this order. (1) The token must carry one of the operation's permissions (app roles for
app-only tokens, `scp` for delegated ones); otherwise 403 `UnknownError` wrapping
`PermissionScopeNotGranted`, the way the PIM backend's errors reach Graph clients. (2) A signed-in user
also needs a directory role for anything beyond their own requests: Privileged Role Administrator or
Global Administrator for admin actions on directory roles, a PIM reader role (Global Reader, Security
Reader, ...) to read everyone's schedules, and for groups the group's owner or a role that manages group
membership. Otherwise 403 wrapping `UnauthorizedAccessException` ("Attempted to perform an unauthorized
operation."). Apps need no directory role beyond the permission.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from ....core.errors import GraphError
from ....core.tokens import Caller
from ....core.world import World
from .models import Kind, Level

__all__ = [
    "is_directory_admin",
    "is_group_manager",
    "is_pim_reader",
    "pim_error",
    "request_permissions",
    "require_scope",
    "schedule_read_permissions",
    "unauthorized",
]

_ADMIN_ACTION = "microsoft.directory/roleAssignments/allProperties/allTasks"
_PIM_READ = "microsoft.directory/privilegedIdentityManagement/allProperties/read"
_PIM_ALL = "microsoft.directory/privilegedIdentityManagement/allProperties/allTasks"


def pim_error(status: int, error_code: str, message: str) -> GraphError:
    """A PIM backend error as Graph relays it: `UnknownError` whose message is the backend's JSON."""
    inner = {"errorCode": error_code, "message": message, "instanceAnnotations": []}
    return GraphError(status, "UnknownError", json.dumps(inner, separators=(",", ":")))


def unauthorized() -> GraphError:
    return pim_error(403, "UnauthorizedAccessException", "Attempted to perform an unauthorized operation.")


def require_scope(caller: Caller, accepted: Sequence[str], named: Sequence[str] | None = None) -> None:
    if caller.has_permission(*accepted):
        return
    names = ",".join(named or accepted[:2])
    raise pim_error(403, "PermissionScopeNotGranted", f"Authorization failed due to missing permission scope {names}.")


_DIRECTORY = {
    "eligibility": ("RoleEligibilitySchedule", "RoleManagement"),
    "assignment": ("RoleAssignmentSchedule", "RoleManagement"),
}
_GROUP = {
    "eligibility": "PrivilegedEligibilitySchedule",
    "assignment": "PrivilegedAssignmentSchedule",
}


def schedule_read_permissions(kind: Kind, level: Level) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(accepted, named in the error) for reading schedules and instances."""
    if kind == "directory":
        base, _ = _DIRECTORY[level]
        accepted = (
            f"{base}.Read.Directory",
            f"{base}.ReadWrite.Directory",
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.ReadWrite.Directory",
        )
        return accepted, (f"{base}.Read.Directory", "RoleManagement.Read.Directory")
    base = _GROUP[level]
    accepted_group: tuple[str, ...] = (
        f"{base}.Read.AzureADGroup",
        f"{base}.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    )
    return accepted_group, (f"{base}.Read.AzureADGroup", "PrivilegedAccess.Read.AzureADGroup")


def request_permissions(
    kind: Kind, level: Level, *, write: bool, removal: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(accepted, named) for reading or creating requests. Directory request lists need the ReadWrite
    permission even to read (observed, PermissionScopeNotGranted); removals also accept `*.Remove.*`."""
    if kind == "directory":
        base, _ = _DIRECTORY[level]
        accepted: tuple[str, ...] = (f"{base}.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory")
        named = accepted
        if removal:
            accepted += (f"{base}.Remove.Directory",)
        return accepted, named
    base = _GROUP[level]
    writes = (f"{base}.ReadWrite.AzureADGroup", "PrivilegedAccess.ReadWrite.AzureADGroup")
    if not write:
        return (*writes, f"{base}.Read.AzureADGroup", "PrivilegedAccess.Read.AzureADGroup"), writes
    return ((*writes, f"{base}.Remove.AzureADGroup") if removal else writes), writes


def is_directory_admin(world: World, object_id: str, now: datetime) -> bool:
    """Privileged Role Administrator or Global Administrator (whoever may manage role assignments)."""
    return world.directory.can(object_id, _ADMIN_ACTION, now)


def is_pim_reader(world: World, object_id: str, now: datetime) -> bool:
    return is_directory_admin(world, object_id, now) or world.directory.can(object_id, _PIM_READ, now)


def is_group_manager(world: World, object_id: str, group_id: str, access_id: str, now: datetime) -> bool:
    """A group's owner, or a role that manages the group's members/owners or all of PIM."""
    group = world.directory.groups.get(group_id)
    if group is not None:
        owner = group.owners.get(object_id)
        if owner is not None and owner.active(now):
            return True
    action = (
        "microsoft.directory/groups/owners/update"
        if access_id == "owner"
        else "microsoft.directory/groups/members/update"
    )
    directory = world.directory
    return directory.can(object_id, action, now) or directory.can(object_id, _PIM_ALL, now)
