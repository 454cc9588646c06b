"""Creating the service principal of an application registration in this tenant (`POST /servicePrincipals`),
the step after `POST /applications` that lets the app sign in and receive role assignments."""

from __future__ import annotations

from ....core.directory import ServicePrincipal
from ....core.errors import GraphError
from ....core.ids import new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import audit_target, initiator
from ..common.errors import bad_request, denied

__all__ = ["create_service_principal"]

_CREATE_ACTION = "microsoft.directory/servicePrincipals/create"


def create_service_principal(w: World, caller: Caller, app_id: str) -> ServicePrincipal:
    app = w.directory.application_by_client_id(app_id.lower()) or w.directory.application_by_client_id(app_id)
    if app is None:
        raise bad_request(
            f"The appId '{app_id}' of the service principal does not reference a valid application object."
        )
    owner = caller.object_id in app.owners
    if caller.is_app:
        allowed = caller.has_permission("Application.ReadWrite.All", "Directory.ReadWrite.All") or (
            owner and caller.has_permission("Application.ReadWrite.OwnedBy")
        )
    else:
        allowed = caller.has_permission("Application.ReadWrite.All", "Directory.AccessAsUser.All") and owner
    if not allowed and not w.directory.can(caller.object_id, _CREATE_ACTION, w.clock.now()):
        raise denied()
    if app.service_principal_id:
        raise GraphError(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service principal name "
            f"{app.app_id} is already in use.",
        )
    sp = ServicePrincipal(new_guid(), app.app_id, app.display_name, created=w.clock.now())
    app.service_principal_id = sp.object_id
    w.directory.service_principals[sp.object_id] = sp
    w.audit.record(
        when=w.clock.now(),
        activity="Add service principal",
        category="ApplicationManagement",
        operation_type="Add",
        initiated_by=initiator(w, caller),
        targets=[audit_target(w, sp.object_id, "ServicePrincipal", modified=[])],
        service="Core Directory",
    )
    return sp
