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

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.directory import Group
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import require
from ..common.directory import listing, single
from ..common.errors import bad_request, not_found, require_guid
from ..common.shapes import directory_object_json, group_json
from .backend import Relation, add_reference, effective, remove_reference

__all__ = ["add_ref", "get_group", "list_groups", "list_refs", "list_related", "remove_ref"]

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


async def list_related(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        group = _group(w, request)
        rows = [o for pid in effective(w, group, _relation(request)) if (o := directory_object_json(w, pid))]
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
            for pid in effective(w, group, _relation(request))
        ]
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#directoryObjects", "value": refs}
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
        add_reference(w, caller, _group(w, request), principal_id, relation)
    return no_content()


async def remove_ref(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    relation = _relation(request)
    principal_id = require_guid(str(request.path_params["member_key"]))
    with w.lock:
        remove_reference(w, caller, _group(w, request), principal_id, relation)
    return no_content()
