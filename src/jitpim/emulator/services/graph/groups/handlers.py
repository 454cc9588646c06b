"""Groups: list/get, `/members` and `/owners` (effective now: standing memberships and PIM-activated ones
whose start has come and end has not), their `$ref` lists, and standing membership changes through
`POST /groups/{id}/members/$ref` and `DELETE /groups/{id}/members/{memberId}/$ref` (same for owners).

Who may change membership: app-only `GroupMember.ReadWrite.All` / `Group.ReadWrite.All` /
`Directory.ReadWrite.All`, or a directory role with `microsoft.directory/groups/members/update` (Groups
Administrator, User Administrator, Directory Writers...); delegated callers need a write scope and either
ownership of the group or such a role. Role-assignable groups additionally need
`RoleManagement.ReadWrite.Directory` or a role with `microsoft.directory/groupsAssignableToRoles/...`
(Privileged Role Administrator, Global Administrator). Memberships PIM granted are changed through PIM.
"""

from __future__ import annotations

import re
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.directory import Group, Membership
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import denied, require
from ..common.directory import audit_target, bad_request, initiator, listing, not_found, require_guid, single
from ..common.shapes import directory_object_json, group_json

__all__ = []

Relation = Literal["members", "owners"]
_TYPE = "Microsoft.DirectoryServices.Group"
_FILTERABLE = {
    "displayName",
    "id",
    "mailNickname",
    "securityEnabled",
    "mailEnabled",
    "isAssignableToRole",
    "description",
    "createdDateTime",
}
_READ = (
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_WRITE_APP = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
_WRITE_DELEGATED = (*_WRITE_APP, "Directory.AccessAsUser.All")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _read(request: Request) -> Caller:
    return require(
        request,
        app=_READ,
        delegated=(*_READ, "Directory.AccessAsUser.All"),
        directory_actions=("microsoft.directory/groups/standard/read", "microsoft.directory/groups/members/update"),
    )


def _group(w: World, request: Request) -> Group:
    gid = require_guid(str(request.path_params["group_key"]))
    group = w.directory.groups.get(gid)
    if group is None:
        raise not_found(gid)
    return group


def _relation(request: Request) -> Relation:
    return "owners" if "/owners" in request.url.path else "members"


async def list_groups(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        rows = [group_json(g) for g in w.directory.groups.values()]
    return json_response(
        listing(
            request, rows, "groups", resource="Group", type_name=_TYPE, fields=_FILTERABLE, order_fields={"displayName"}
        )
    )


async def get_group(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        item = group_json(_group(w, request))
    return json_response(single(request, item, "groups", type_name=_TYPE))


def _effective(w: World, group: Group, relation: Relation) -> list[str]:
    now = w.clock.now()
    table = group.members if relation == "members" else group.owners
    return [pid for pid, m in table.items() if m.active(now)]


async def list_related(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        group = _group(w, request)
        rows = [o for pid in _effective(w, group, _relation(request)) if (o := directory_object_json(w, pid))]
    return json_response(
        listing(
            request,
            rows,
            "directoryObjects",
            resource="DirectoryObject",
            type_name="Microsoft.DirectoryServices.DirectoryObject",
            fields={"id", "displayName", "userPrincipalName", "appId"},
        )
    )


async def list_refs(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        group = _group(w, request)
        refs = [
            {
                "@odata.id": f"https://graph.microsoft.com/v2/{w.tenant_id}/directoryObjects/{pid}/"
                f"Microsoft.DirectoryServices.{w.directory.principal_kind(pid) or 'DirectoryObject'}"
            }
            for pid in _effective(w, group, _relation(request))
        ]
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#directoryObjects", "value": refs}
    )


def _authorize_change(w: World, caller: Caller, group: Group) -> None:
    now = w.clock.now()
    owner = (m := group.owners.get(caller.object_id)) is not None and m.active(now)
    if group.is_assignable_to_role:
        action = "microsoft.directory/groupsAssignableToRoles/allProperties/update"
        by_role = w.directory.can(caller.object_id, action, now)
        by_permission = (
            caller.is_app
            and caller.has_permission(*_WRITE_APP)
            and caller.has_permission("RoleManagement.ReadWrite.Directory")
        )
    else:
        by_role = w.directory.can(caller.object_id, "microsoft.directory/groups/members/update", now)
        by_permission = caller.is_app and caller.has_permission(*_WRITE_APP)
    if caller.is_app:
        if by_permission or by_role:
            return
        raise denied()
    if caller.has_permission(*_WRITE_DELEGATED) and (owner or by_role):
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


async def add_ref(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    body = await json_body(request, GraphError, code="BadRequest")
    relation = _relation(request)
    odata_id = body.get("@odata.id")
    if not isinstance(odata_id, str) or not odata_id.strip():
        raise bad_request("The request body must carry '@odata.id' naming the directory object to add.")
    ids = _GUID.findall(odata_id)
    if not ids:
        raise bad_request(f"Invalid object identifier '{odata_id}'.")
    principal_id = ids[-1].lower()
    with w.lock:
        group = _group(w, request)
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
                "One or more added object references already exist for the following modified "
                f"properties: '{relation}'."
            )
        table[principal_id] = Membership(start=now, end=None, source="standing")
        _record(w, caller, group, principal_id, relation, added=True)
    return no_content()


async def remove_ref(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    relation = _relation(request)
    principal_id = require_guid(str(request.path_params["member_key"]))
    with w.lock:
        group = _group(w, request)
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
    return no_content()
