"""The `directoryAudits` rows PIM writes: a PIM row for each step of a request (requested, approval
requested, approved/denied, completed, canceled, expired) and a Core Directory row, initiated by the
`MS-PIM` app, for each role assignment or group membership actually added or removed.

Activity names are written in role terms (`Add member to role completed (PIM activation)`) and turned into
their group form (`Add member to group ...`, `Add owner to group ...`) for PIM for Groups.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ....core.audit import SYSTEM, Initiator
from ....core.clock import format_time
from ....core.ids import stable_guid
from ....core.tokens import Caller
from ....core.world import World
from ..pim.models import ScheduleRequest, Target

__all__ = ["MS_PIM_APP_ID", "activity", "audit_target", "initiator", "initiator_for", "record_core", "record_pim"]

# The first-party app PIM acts through when it changes the directory.
MS_PIM_APP_ID = "01fc33a7-78ba-4d2f-a4b7-768e336e890e"


def activity(target: Target, text: str) -> str:
    if target.kind == "directory":
        return text
    text = text.replace(" to role", " to group").replace(" from role", " from group")
    return text.replace("member", "owner") if target.scope == "owner" else text


def _category(target: Target) -> str:
    return "RoleManagement" if target.kind == "directory" else "GroupManagement"


def initiator_for(world: World, caller: Caller | None) -> Initiator:
    if caller is None:
        return SYSTEM
    directory = world.directory
    if caller.is_app:
        sp = directory.service_principals.get(caller.object_id)
        return Initiator("app", id=caller.object_id, display_name=sp.display_name if sp else None, app_id=caller.app_id)
    user = directory.users.get(caller.object_id)
    return Initiator(
        "user",
        id=caller.object_id,
        display_name=user.display_name if user else None,
        user_principal_name=user.user_principal_name if user else None,
    )


def _ms_pim(world: World) -> Initiator:
    return Initiator(
        "app", id=stable_guid(world.tenant_id, "sp", "MS-PIM"), display_name="MS-PIM", app_id=MS_PIM_APP_ID
    )


def _principal_target(world: World, principal_id: str) -> dict[str, Any]:
    directory = world.directory
    user = directory.users.get(principal_id)
    return {
        "id": principal_id,
        "displayName": directory.display_name(principal_id),
        "type": directory.principal_kind(principal_id) or "User",
        "userPrincipalName": user.user_principal_name if user else None,
        "groupType": None,
        "modifiedProperties": [],
    }


def _resource_target(world: World, target: Target, *, core: bool) -> dict[str, Any]:
    directory = world.directory
    if target.kind == "directory":
        role = directory.role_definitions.get(target.resource_id)
        name = role.display_name if role else None
        modified = (
            [
                {"displayName": "Role.DisplayName", "oldValue": None, "newValue": f'"{name}"'},
                {"displayName": "Role.TemplateId", "oldValue": None, "newValue": f'"{target.resource_id}"'},
            ]
            if core
            else []
        )
        return {
            "id": target.resource_id,
            "displayName": name,
            "type": "Role",
            "userPrincipalName": None,
            "groupType": None,
            "modifiedProperties": modified,
        }
    group = directory.groups.get(target.resource_id)
    return {
        "id": target.resource_id,
        "displayName": group.display_name if group else None,
        "type": "Group",
        "userPrincipalName": None,
        "groupType": "azureAD",
        "modifiedProperties": [],
    }


def record_pim(
    world: World,
    *,
    when: datetime,
    text: str,
    target: Target,
    initiator: Initiator,
    request: ScheduleRequest | None = None,
    operation: str = "Add",
    audit_type: str | None = None,
    result: str = "success",
    reason: str | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    """One PIM row. On success rows PIM puts the justification in `resultReason`; on failures the code."""
    details: dict[str, str] = {}
    if audit_type:
        details["AuditType"] = audit_type
    if request is not None:
        details["RoleAssignmentRequestId"] = request.id
        details["Justification"] = request.justification or ""
        if request.start is not None:
            details["StartTime"] = format_time(request.start) or ""
        if request.end is not None:
            details["ExpirationTime"] = format_time(request.end) or ""
        ticket = request.ticket_info or {}
        if ticket.get("ticketNumber"):
            details["TicketNumber"] = str(ticket["ticketNumber"])
            details["TicketSystem"] = str(ticket.get("ticketSystem") or "")
        if not request.created_by.is_app and request.action.startswith("self"):
            details["IsAuthenticatedWithMfa"] = str(request.had_mfa)
    details.update(extra or {})
    if initiator.kind == "user" and initiator.id:
        details["oid"] = initiator.id
    details["tid"] = world.tenant_id
    world.audit.record(
        when=when,
        activity=activity(target, text),
        category=_category(target),
        operation_type=operation,
        initiated_by=initiator,
        targets=[_resource_target(world, target, core=False), _principal_target(world, target.principal_id)],
        result=result,
        result_reason=reason if reason is not None else ((request.justification or "") if request else ""),
        correlation_id=request.correlation_id if request and request.correlation_id else None,
        details=details,
        service="PIM",
    )


def record_core(world: World, *, when: datetime, target: Target, add: bool, correlation_id: str | None) -> None:
    """The directory's own row for the change PIM made (role assignment or group membership)."""
    if target.kind == "directory":
        text = "Add member to role" if add else "Remove member from role"
    else:
        noun = "owner" if target.scope == "owner" else "member"
        text = f"Add {noun} to group" if add else f"Remove {noun} from group"
    world.audit.record(
        when=when,
        activity=text,
        category=_category(target),
        operation_type="Assign" if add else "Unassign",
        initiated_by=_ms_pim(world),
        targets=[_principal_target(world, target.principal_id), _resource_target(world, target, core=True)],
        correlation_id=correlation_id,
        service="Core Directory",
    )


def initiator(world: World, caller: Caller) -> Initiator:
    """Who made a change, as the directory audit log names them."""
    d = world.directory
    if caller.is_app:
        sp = d.service_principals.get(caller.object_id)
        return Initiator(
            kind="app",
            id=caller.object_id,
            display_name=sp.display_name if sp else None,
            app_id=caller.app_id,
        )
    user = d.users.get(caller.object_id)
    return Initiator(
        kind="user",
        id=caller.object_id,
        display_name=user.display_name if user else None,
        user_principal_name=user.user_principal_name if user else None,
    )


def audit_target(
    world: World, object_id: str, kind: str | None = None, modified: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A `targetResources` entry: id, display name, type (User, ServicePrincipal, Group, Application, Role)."""
    d = world.directory
    upn = d.users[object_id].user_principal_name if object_id in d.users else None
    name = d.display_name(object_id)
    if name is None and object_id in d.applications:
        name = d.applications[object_id].display_name
    if name is None and object_id in d.role_definitions:
        name = d.role_definitions[object_id].display_name
    return {
        "id": object_id,
        "displayName": name,
        "type": kind or d.principal_kind(object_id) or ("Application" if object_id in d.applications else "Role"),
        "userPrincipalName": upn,
        "groupType": None,
        "modifiedProperties": modified or [],
    }
