"""Granting and revoking a service principal's application permissions on Microsoft Graph
(`appRoleAssignments`), as admin consent does. The granted permissions are what the token issuer puts in the
`roles` claim of the app's next Graph token.

Who may: app-only `AppRoleAssignment.ReadWrite.All`, or a directory role granting
`microsoft.directory/servicePrincipals/appRoleAssignedTo/update` (Privileged Role Administrator, Application
Administrator, Cloud Application Administrator, Global Administrator) for apps and people alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ....core.directory import Application, ServicePrincipal
from ....core.errors import GraphError
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import audit_target, initiator
from ..common.errors import bad_request, denied
from ..common.graph_resource import GRAPH_APP_ID, GRAPH_SP_NAME, app_role_id, app_role_name

__all__ = ["assignment_id", "authorize_grant", "grant", "graph_service_principal", "revoke", "rows"]

_ACTION = "microsoft.directory/servicePrincipals/appRoleAssignedTo/update"


def graph_service_principal(w: World) -> ServicePrincipal:
    found = next((s for s in w.directory.service_principals.values() if s.app_id == GRAPH_APP_ID), None)
    if found is None:
        raise GraphError(500, "UnknownError", "Microsoft Graph's service principal is missing.")
    return found


def assignment_id(sp_id: str, role_name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"approle:{sp_id}:{role_name}"))


def authorize_grant(w: World, caller: Caller) -> None:
    if caller.is_app and caller.has_permission("AppRoleAssignment.ReadWrite.All"):
        return
    if not caller.is_app and not caller.has_permission("AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"):
        raise denied()
    if w.directory.can(caller.object_id, _ACTION, w.clock.now()):
        return
    raise denied()


def _application(w: World, sp: ServicePrincipal) -> Application:
    app = w.directory.application_of_service_principal(sp.object_id)
    if app is None:
        raise bad_request("Only service principals of this tenant's applications can be granted Graph permissions.")
    return app


def rows(w: World, sp: ServicePrincipal, created: datetime | None) -> list[dict[str, Any]]:
    app = w.directory.application_of_service_principal(sp.object_id)
    graph = graph_service_principal(w)
    names = sorted(app.graph_app_roles) if app is not None else []
    return [
        {
            "id": assignment_id(sp.object_id, name),
            "deletedDateTime": None,
            "appRoleId": app_role_id(name),
            "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
            "principalDisplayName": sp.display_name,
            "principalId": sp.object_id,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": GRAPH_SP_NAME,
            "resourceId": graph.object_id,
        }
        for name in names
        if app_role_id(name) is not None
    ]


def _record(w: World, caller: Caller, sp: ServicePrincipal, name: str, activity: str) -> None:
    w.audit.record(
        when=w.clock.now(),
        activity=activity,
        category="ApplicationManagement",
        operation_type="Assign" if activity.startswith("Add") else "Unassign",
        initiated_by=initiator(w, caller),
        targets=[
            audit_target(
                w,
                sp.object_id,
                "ServicePrincipal",
                modified=[{"displayName": "AppRole.Value", "oldValue": None, "newValue": f'"{name}"'}],
            )
        ],
        service="Core Directory",
    )


def grant(w: World, caller: Caller, sp: ServicePrincipal, body: dict[str, Any]) -> dict[str, Any]:
    authorize_grant(w, caller)
    principal, resource, role = body.get("principalId"), body.get("resourceId"), body.get("appRoleId")
    if not isinstance(principal, str) or principal.lower() != sp.object_id.lower():
        raise bad_request("principalId must be the service principal in the request path.")
    if not isinstance(resource, str) or resource.lower() != graph_service_principal(w).object_id.lower():
        raise bad_request("resourceId must be a resource service principal; this emulator serves Microsoft Graph's.")
    name = app_role_name(role) if isinstance(role, str) else None
    if name is None:
        raise bad_request(f"Permission being assigned was not found on application '{GRAPH_APP_ID}'.")
    app = _application(w, sp)
    if name in app.graph_app_roles:
        raise GraphError(409, "Request_BadRequest", "Permission being assigned already exists on the object")
    app.graph_app_roles.add(name)
    _record(w, caller, sp, name, "Add app role assignment to service principal")
    return next(r for r in rows(w, sp, w.clock.now()) if r["appRoleId"] == app_role_id(name))


def revoke(w: World, caller: Caller, sp: ServicePrincipal, key: str) -> None:
    authorize_grant(w, caller)
    app = _application(w, sp)
    name = next((n for n in app.graph_app_roles if assignment_id(sp.object_id, n) == key), None)
    if name is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
        )
    app.graph_app_roles.discard(name)
    _record(w, caller, sp, name, "Remove app role assignment from service principal")
