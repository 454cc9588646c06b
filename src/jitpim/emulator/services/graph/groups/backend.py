"""Standing group membership and ownership: who is in a group now, and adding or removing a member or owner
(`$ref`), with Graph's authorization (group owners, the directory roles that manage groups, or the apps'
`GroupMember.ReadWrite.All` / `Group.ReadWrite.All`; role-assignable groups need the privileged permission) and the
audit row each change writes. PIM-granted memberships are changed through PIM, not here."""

from __future__ import annotations

from typing import Literal

from ....core.directory import Group, Membership
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import audit_target, initiator
from ..common.errors import bad_request, denied, not_found

__all__ = ["Relation", "add_reference", "effective", "remove_reference"]

Relation = Literal["members", "owners"]
WRITE_APP = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
WRITE_DELEGATED = (*WRITE_APP, "Directory.AccessAsUser.All")


def effective(w: World, group: Group, relation: Relation) -> list[str]:
    now = w.clock.now()
    table = group.members if relation == "members" else group.owners
    return [pid for pid, m in table.items() if m.active(now)]


def _authorize_change(w: World, caller: Caller, group: Group) -> None:
    now = w.clock.now()
    owner = (m := group.owners.get(caller.object_id)) is not None and m.active(now)
    if group.is_assignable_to_role:
        action = "microsoft.directory/groupsAssignableToRoles/allProperties/update"
        by_role = w.directory.can(caller.object_id, action, now)
        by_permission = (
            caller.is_app
            and caller.has_permission(*WRITE_APP)
            and caller.has_permission("RoleManagement.ReadWrite.Directory")
        )
    else:
        by_role = w.directory.can(caller.object_id, "microsoft.directory/groups/members/update", now)
        by_permission = caller.is_app and caller.has_permission(*WRITE_APP)
    if caller.is_app:
        if by_permission or by_role:
            return
        raise denied()
    if caller.has_permission(*WRITE_DELEGATED) and (owner or by_role):
        return
    raise denied()


def _record(w: World, caller: Caller, group: Group, principal_id: str, relation: Relation, added: bool) -> None:
    noun = "member" if relation == "members" else "owner"
    w.audit.record(
        when=w.clock.now(),
        activity=f"Add {noun} to group" if added else f"Remove {noun} from group",
        category="GroupManagement",
        operation_type="Assign" if added else "Unassign",
        initiated_by=initiator(w, caller),
        targets=[audit_target(w, principal_id), audit_target(w, group.object_id, "Group")],
        service="Core Directory",
    )


def add_reference(w: World, caller: Caller, group: Group, principal_id: str, relation: Relation) -> None:
    """A standing member (or owner) added; 404 for an unknown object, 400 for nesting or a duplicate."""
    _authorize_change(w, caller, group)
    kind = w.directory.principal_kind(principal_id)
    if kind is None:
        raise not_found(principal_id)
    if kind == "Group" and (relation == "owners" or group.is_assignable_to_role or principal_id == group.object_id):
        raise bad_request(
            "Nesting is currently not supported for groups that can be assigned to a role."
            if group.is_assignable_to_role
            else f"A group cannot be added to the {relation} of this group."
        )
    now = w.clock.now()
    table = group.members if relation == "members" else group.owners
    existing = table.get(principal_id)
    if existing is not None and (existing.end is None or now < existing.end):
        raise bad_request(
            f"One or more added object references already exist for the following modified properties: '{relation}'."
        )
    table[principal_id] = Membership(start=now, end=None, source="standing")
    _record(w, caller, group, principal_id, relation, added=True)


def remove_reference(w: World, caller: Caller, group: Group, principal_id: str, relation: Relation) -> None:
    """A standing member (or owner) removed; a PIM-granted one must be removed through PIM."""
    _authorize_change(w, caller, group)
    table = group.members if relation == "members" else group.owners
    existing = table.get(principal_id)
    now = w.clock.now()
    if existing is None or (existing.end is not None and now >= existing.end):
        raise not_found(principal_id)
    if existing.source == "pim":
        raise bad_request(
            "This membership was granted by Privileged Identity Management; remove it with an "
            "assignmentScheduleRequest (action adminRemove or selfDeactivate)."
        )
    del table[principal_id]
    _record(w, caller, group, principal_id, relation, added=False)
