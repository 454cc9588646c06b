"""Service principals: list (`$filter=appId eq` / `displayName eq` / `startswith` /
`servicePrincipalNames/any(c:c eq '...')`, the Azure CLI's `--assignee` lookup), get by object id or
`(appId='...')`. Readable with `Application.Read(Write).All` or `Directory.Read(Write).All` (app-only and
delegated), or a directory role that reads service principals."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.directory import ServicePrincipal
from ....core.errors import GraphError
from ....core.http import json_body, json_response, world
from ....core.tokens import Caller
from ..common.authz import require
from ..common.directory import listing, single
from ..common.errors import bad_request, not_found, require_guid
from ..common.shapes import service_principal_json
from .backend import create_service_principal

__all__ = ["create", "get_service_principal", "list_service_principals", "service_principal_of"]

_TYPE = "Microsoft.DirectoryServices.ServicePrincipal"
_FILTERABLE = {
    "appId",
    "displayName",
    "id",
    "servicePrincipalType",
    "accountEnabled",
    "appOwnerOrganizationId",
    "servicePrincipalNames",
}
_READ = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")


def read_service_principals(request: Request) -> Caller:
    return require(
        request,
        app=_READ,
        delegated=(*_READ, "Directory.AccessAsUser.All"),
        directory_actions=(
            "microsoft.directory/servicePrincipals/standard/read",
            "microsoft.directory/servicePrincipals/credentials/update",
        ),
    )


def service_principal_of(request: Request) -> ServicePrincipal:
    w = world(request)
    params = request.path_params
    if "client_id" in params:
        client_id = str(params["client_id"]).lower()
        found = next((s for s in w.directory.service_principals.values() if s.app_id.lower() == client_id), None)
        if found is None:
            raise not_found(str(params["client_id"]))
        return found
    object_id = require_guid(str(params["sp_key"]))
    sp = w.directory.service_principals.get(object_id)
    if sp is None:
        raise not_found(object_id)
    return sp


async def list_service_principals(request: Request) -> Response:
    w = world(request)
    read_service_principals(request)
    with w.lock:
        rows = [service_principal_json(sp, w) for sp in w.directory.service_principals.values()]
    return json_response(
        listing(
            request,
            rows,
            "servicePrincipals",
            resource="ServicePrincipal",
            type_name=_TYPE,
            fields=_FILTERABLE,
            order_fields={"displayName"},
        )
    )


async def get_service_principal(request: Request) -> Response:
    w = world(request)
    read_service_principals(request)
    with w.lock:
        item = service_principal_json(service_principal_of(request), w)
    return json_response(single(request, item, "servicePrincipals", type_name=_TYPE))


async def create(request: Request) -> Response:
    """`POST /servicePrincipals` with `{"appId": ...}`: 201 with the new service principal."""
    w = world(request)
    caller = authenticate(request, w, "graph")
    body = await json_body(request, GraphError, code="BadRequest")
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not app_id:
        raise bad_request("Invalid value specified for property 'appId' of resource 'ServicePrincipal'.")
    with w.lock:
        sp = create_service_principal(w, caller, app_id)
        item = service_principal_json(sp, w)
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#servicePrincipals/$entity", **item},
        status=201,
    )
