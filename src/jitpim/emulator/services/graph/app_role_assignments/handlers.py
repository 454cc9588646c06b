"""`/servicePrincipals/{id}/appRoleAssignments`: list, grant (POST, 201) and revoke (DELETE, 204) a service
principal's Microsoft Graph application permissions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ..common.directory import listing
from ..service_principals.handlers import read_service_principals, service_principal_of
from .backend import grant, revoke, rows

__all__ = ["add_assignment", "list_assignments", "remove_assignment"]


async def list_assignments(request: Request) -> Response:
    w = world(request)
    read_service_principals(request)
    with w.lock:
        sp = service_principal_of(request)
        items = rows(w, sp, sp.created)
    return json_response(
        listing(
            request,
            items,
            f"servicePrincipals('{sp.object_id}')/appRoleAssignments",
            resource="AppRoleAssignment",
            type_name="Microsoft.DirectoryServices.AppRoleAssignment",
            fields={"appRoleId", "resourceId", "principalId", "id"},
        )
    )


async def add_assignment(request: Request) -> Response:
    w = world(request)
    caller = read_service_principals(request)
    body = await json_body(request, GraphError, code="BadRequest")
    with w.lock:
        created = grant(w, caller, service_principal_of(request), body)
    return json_response(created, status=201)


async def remove_assignment(request: Request) -> Response:
    w = world(request)
    caller = read_service_principals(request)
    with w.lock:
        revoke(w, caller, service_principal_of(request), str(request.path_params["assignment_id"]))
    return no_content()
