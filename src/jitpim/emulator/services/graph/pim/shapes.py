"""The PIM read models as Graph serialises them: schedules (incl. future ones), instances (what holds right
now, including standing non-PIM role assignments and group memberships) and requests.

Directory shapes keep PascalCase strings (`assignmentType: "Activated"`, `memberType: "Direct"`); group
shapes use the camelCase OData enums (`assignmentType: "activated"`, `memberType: "direct"`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ....core.clock import format_time
from ....core.directory import Membership
from ....core.ids import assignment_instance_id
from ....core.world import World
from .models import Kind, Level, Schedule, group_instance_id, request_json, schedule_info_json
from .store import GraphState

__all__ = ["expand_item", "instance_rows", "principal_json", "request_rows", "schedule_rows"]


def _directory_schedule(s: Schedule) -> dict[str, Any]:
    t = s.target
    data: dict[str, Any] = {
        "id": s.id,
        "principalId": t.principal_id,
        "roleDefinitionId": t.resource_id,
        "directoryScopeId": t.scope,
        "appScopeId": None,
        "createdUsing": s.created_using,
        "createdDateTime": format_time(s.created),
        "modifiedDateTime": format_time(s.modified),
        "status": s.status(),
        "memberType": "Direct",
        "scheduleInfo": schedule_info_json(s.start, s.expiration_type, s.end, s.duration),
    }
    if s.level == "assignment":
        data["assignmentType"] = s.assignment_type
    return data


def _group_schedule(s: Schedule) -> dict[str, Any]:
    t = s.target
    data: dict[str, Any] = {
        "id": s.id,
        "createdDateTime": format_time(s.created),
        "modifiedDateTime": format_time(s.modified),
        "createdUsing": s.created_using,
        "status": s.status(),
        "scheduleInfo": schedule_info_json(s.start, s.expiration_type, s.end, s.duration),
        "accessId": t.scope,
        "groupId": t.resource_id,
        "memberType": "direct",
        "principalId": t.principal_id,
    }
    if s.level == "assignment":
        data["assignmentType"] = s.assignment_type.lower()
    return data


def _standing_directory(world: World, now: datetime, *, instances: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for a in world.directory.role_assignments:
        if a.source != "standing" or not a.active(now):
            continue
        base: dict[str, Any] = {
            "id": a.id,
            "principalId": a.principal_id,
            "roleDefinitionId": a.role_definition_id,
            "directoryScopeId": a.directory_scope_id,
            "appScopeId": None,
        }
        if instances:
            rows.append(
                {
                    **base,
                    "startDateTime": None,
                    "endDateTime": format_time(a.end),
                    "assignmentType": "Assigned",
                    "memberType": "Direct",
                    "roleAssignmentOriginId": a.id,
                    "roleAssignmentScheduleId": a.id,
                }
            )
        else:
            rows.append(
                {
                    **base,
                    "createdUsing": a.id,
                    "createdDateTime": None,
                    "modifiedDateTime": None,
                    "status": "Provisioned",
                    "memberType": "Direct",
                    "assignmentType": "Assigned",
                    "scheduleInfo": schedule_info_json(None, "noExpiration", None, None),
                }
            )
    return rows


def _standing_group(world: World, now: datetime, *, instances: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for group in world.directory.groups.values():
        for access, table in (("member", group.members), ("owner", group.owners)):
            for pid, m in table.items():
                if m.source != "standing" or not m.active(now):
                    continue
                rid = group_instance_id(group.object_id, access, pid)
                if instances:
                    rows.append(
                        {
                            "id": rid,
                            "startDateTime": format_time(m.start),
                            "endDateTime": format_time(m.end),
                            "accessId": access,
                            "assignmentScheduleId": rid,
                            "assignmentType": "assigned",
                            "groupId": group.object_id,
                            "memberType": "direct",
                            "principalId": pid,
                        }
                    )
                else:
                    rows.append(
                        {
                            "id": rid,
                            "createdDateTime": format_time(m.start),
                            "modifiedDateTime": None,
                            "createdUsing": rid,
                            "status": "Provisioned",
                            "scheduleInfo": schedule_info_json(m.start, "noExpiration", None, None),
                            "accessId": access,
                            "assignmentType": "assigned",
                            "groupId": group.object_id,
                            "memberType": "direct",
                            "principalId": pid,
                        }
                    )
    return rows


def schedule_rows(state: GraphState, kind: Kind, level: Level, now: datetime) -> list[dict[str, Any]]:
    render = _directory_schedule if kind == "directory" else _group_schedule
    rows = [render(s) for s in sorted(state.schedules_of(kind, level, now), key=lambda s: s.created)]
    if level == "assignment":
        standing = _standing_directory if kind == "directory" else _standing_group
        rows = standing(state.world, now, instances=False) + rows
    return rows


def _pim_instances(state: GraphState, kind: Kind, now: datetime) -> list[dict[str, Any]]:
    """Active PIM assignments as the directory holds them (after any provisioning lag)."""
    world = state.world
    rows: list[dict[str, Any]] = []
    if kind == "directory":
        for a in world.directory.role_assignments:
            if a.source == "pim" and a.active(now):
                rows.append(
                    {
                        "id": a.id,
                        "principalId": a.principal_id,
                        "roleDefinitionId": a.role_definition_id,
                        "directoryScopeId": a.directory_scope_id,
                        "appScopeId": None,
                        "startDateTime": format_time(a.start),
                        "endDateTime": format_time(a.end),
                        "assignmentType": a.assignment_type,
                        "memberType": "Direct",
                        "roleAssignmentOriginId": a.id,
                        "roleAssignmentScheduleId": a.schedule_id,
                    }
                )
        return rows
    for group in world.directory.groups.values():
        for access, table in (("member", group.members), ("owner", group.owners)):
            for pid, m in table.items():
                if m.source == "pim" and m.active(now):
                    rows.append(_group_instance(state, group.object_id, access, pid, m))
    return rows


def _group_instance(state: GraphState, group_id: str, access: str, pid: str, m: Membership) -> dict[str, Any]:
    schedule = state.schedules.get(m.schedule_id or "")
    return {
        "id": group_instance_id(group_id, access, pid),
        "startDateTime": format_time(m.start),
        "endDateTime": format_time(m.end),
        "accessId": access,
        "assignmentScheduleId": m.schedule_id,
        "assignmentType": (schedule.assignment_type if schedule else "Assigned").lower(),
        "groupId": group_id,
        "memberType": "direct",
        "principalId": pid,
    }


def _eligibility_instance(s: Schedule) -> dict[str, Any]:
    t = s.target
    if t.kind == "directory":
        suffix = "-1-e" if t.scope == "/" else "-1" + t.scope.replace("/", "-") + "-e"
        return {
            "id": assignment_instance_id(t.resource_id, t.principal_id, suffix),
            "principalId": t.principal_id,
            "roleDefinitionId": t.resource_id,
            "directoryScopeId": t.scope,
            "appScopeId": None,
            "startDateTime": format_time(s.start),
            "endDateTime": format_time(s.end),
            "memberType": "Direct",
            "roleEligibilityScheduleId": s.id,
        }
    return {
        "id": group_instance_id(t.resource_id, t.scope, t.principal_id),
        "startDateTime": format_time(s.start),
        "endDateTime": format_time(s.end),
        "accessId": t.scope,
        "eligibilityScheduleId": s.id,
        "groupId": t.resource_id,
        "memberType": "direct",
        "principalId": t.principal_id,
    }


def instance_rows(state: GraphState, kind: Kind, level: Level, now: datetime) -> list[dict[str, Any]]:
    if level == "eligibility":
        live = [s for s in state.schedules_of(kind, level, now) if s.active_at(now)]
        return [_eligibility_instance(s) for s in sorted(live, key=lambda s: s.created)]
    standing = _standing_directory if kind == "directory" else _standing_group
    return standing(state.world, now, instances=True) + _pim_instances(state, kind, now)


def request_rows(state: GraphState, kind: Kind, level: Level) -> list[dict[str, Any]]:
    return [request_json(r) for r in state.requests_of(kind, level)]


# $expand -----------------------------------------------------------------------------------------------------
def principal_json(world: World, object_id: str) -> dict[str, Any] | None:
    directory = world.directory
    if object_id in directory.users:
        u = directory.users[object_id]
        return {
            "@odata.type": "#microsoft.graph.user",
            "id": u.object_id,
            "displayName": u.display_name,
            "userPrincipalName": u.user_principal_name,
            "mail": u.mail,
        }
    if object_id in directory.service_principals:
        sp = directory.service_principals[object_id]
        return {
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": sp.object_id,
            "appId": sp.app_id,
            "displayName": sp.display_name,
            "servicePrincipalType": sp.service_principal_type,
        }
    if object_id in directory.groups:
        g = directory.groups[object_id]
        return {
            "@odata.type": "#microsoft.graph.group",
            "id": g.object_id,
            "displayName": g.display_name,
            "securityEnabled": g.security_enabled,
            "isAssignableToRole": g.is_assignable_to_role,
        }
    return None


def expand_item(state: GraphState, item: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    """Add the navigation properties named in `$expand` (principal, roleDefinition, group, activatedUsing)."""
    world = state.world
    out = dict(item)
    if "principal" in expand:
        out["principal"] = principal_json(world, str(item.get("principalId")))
    if "roleDefinition" in expand:
        role = world.directory.role_definitions.get(str(item.get("roleDefinitionId")))
        out["roleDefinition"] = role.to_graph() if role else None
    if "group" in expand:
        out["group"] = principal_json(world, str(item.get("groupId")))
    if "activatedUsing" in expand:
        schedule_id = None
        req = state.requests.get(str(item.get("id")))
        sched = state.schedules.get(str(item.get("id")))
        if req is not None:
            schedule_id = req.activated_using
        elif sched is not None:
            schedule_id = sched.activated_using
        used = state.schedules.get(schedule_id or "")
        if used is None:
            out["activatedUsing"] = None
        else:
            out["activatedUsing"] = (
                _directory_schedule(used) if used.target.kind == "directory" else _group_schedule(used)
            )
    return out
