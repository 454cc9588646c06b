"""Name resolution and tenant identity: `/directoryObjects/{id}`, `POST /directoryObjects/getByIds`, and
`/organization` (tenant id, display name, verified domain), which clients read to check the tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.errors import GraphError
from ....core.http import json_body, json_response, world
from ....core.world import World
from ..common.authz import require
from ..common.directory import listing, single
from ..common.errors import bad_request, denied, not_found, require_guid
from ..common.shapes import directory_object_json, organization_json

__all__ = ["get_by_ids", "get_directory_object", "get_organization", "list_organization"]

_DIRECTORY_READ = ("Directory.Read.All", "Directory.ReadWrite.All")
# Reading one object also works with the permission that reads its kind.
_KIND_READ = {
    "#microsoft.graph.user": ("User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All"),
    "#microsoft.graph.group": ("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All"),
    "#microsoft.graph.servicePrincipal": ("Application.Read.All", "Application.ReadWrite.All"),
    "#microsoft.graph.application": ("Application.Read.All", "Application.ReadWrite.All"),
}
_TYPES = {"user", "group", "serviceprincipal", "application", "device", "orgcontact", "directoryrole"}
_MAX_IDS = 1000


async def get_directory_object(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    object_id = require_guid(str(request.path_params["object_key"]))
    with w.lock:
        item = directory_object_json(w, object_id)
        if item is None:
            raise not_found(object_id)
    granted = (*_DIRECTORY_READ, *_KIND_READ[str(item["@odata.type"])])
    if not caller.has_permission(*granted, *(() if caller.is_app else ("Directory.AccessAsUser.All",))):
        raise denied()
    return json_response(
        single(request, item, "directoryObjects", type_name="Microsoft.DirectoryServices.DirectoryObject")
    )


async def get_by_ids(request: Request) -> Response:
    w = world(request)
    require(
        request,
        app=_DIRECTORY_READ,
        delegated=(*_DIRECTORY_READ, "Directory.AccessAsUser.All"),
        directory_actions=("microsoft.directory/users/standard/read",),
    )
    body = await json_body(request, GraphError, code="BadRequest")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise bad_request("The 'ids' parameter is required: a list of up to 1000 object ids.")
    if len(ids) > _MAX_IDS:
        raise bad_request(f"Too many ids: at most {_MAX_IDS} may be resolved in one request.")
    types_raw = body.get("types")
    if types_raw is not None and (not isinstance(types_raw, list) or not all(isinstance(t, str) for t in types_raw)):
        raise bad_request("The 'types' parameter must be a list of directory object type names.")
    wanted = {t.lower().removeprefix("microsoft.graph.") for t in types_raw or []}
    unknown = wanted - _TYPES
    if unknown:
        raise bad_request(f"Invalid value specified for property 'types': '{sorted(unknown)[0]}'.")
    found: list[dict[str, Any]] = []
    with w.lock:
        for raw in ids:
            item = directory_object_json(w, raw.lower()) if len(raw) == 36 else None
            if item is None:
                continue
            kind = str(item["@odata.type"]).removeprefix("#microsoft.graph.").lower()
            if not wanted or kind in wanted:
                found.append(item)
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#directoryObjects", "value": found}
    )


def _tenant_created(w: World) -> datetime | None:
    times = [a.created for a in w.directory.applications.values() if a.created is not None]
    times += [u.created for u in w.directory.users.values() if u.created is not None]
    return min(times) if times else None


def _read_organization(request: Request) -> None:
    require(
        request,
        app=("Organization.Read.All", "Organization.ReadWrite.All", *_DIRECTORY_READ),
        delegated=(
            "User.Read",
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            *_DIRECTORY_READ,
            "Directory.AccessAsUser.All",
        ),
    )


async def list_organization(request: Request) -> Response:
    w = world(request)
    _read_organization(request)
    with w.lock:
        rows = [organization_json(w, _tenant_created(w))]
    return json_response(
        listing(
            request,
            rows,
            "organization",
            resource="Organization",
            type_name="Microsoft.DirectoryServices.Organization",
            fields={"id", "displayName"},
        )
    )


async def get_organization(request: Request) -> Response:
    w = world(request)
    _read_organization(request)
    org_id = require_guid(str(request.path_params["org_key"]))
    if org_id != w.tenant_id:
        raise not_found(org_id)
    with w.lock:
        item = organization_json(w, _tenant_created(w))
    return json_response(single(request, item, "organization", type_name="Microsoft.DirectoryServices.Organization"))
