"""Who may read an application registration and who may change its credentials, as Graph decides.

Reading: app-only `Application.Read.All` / `Application.ReadWrite.All` / `Application.ReadWrite.OwnedBy` /
`Directory.Read(Write).All`, delegated `Application.Read(Write).All` / `Directory.Read.All` /
`Directory.AccessAsUser.All`, or a directory role that manages applications.

Changing credentials (addPassword, removePassword, federated identity credentials): app-only
`Application.ReadWrite.All` (or `Directory.ReadWrite.All`), `Application.ReadWrite.OwnedBy` only on
applications whose owners include the caller's service principal, or a directory role granting
`microsoft.directory/applications/credentials/update` (Application Administrator, Cloud Application
Administrator, Global Administrator; e.g. granted just in time). A user needs a write scope and either
ownership of the application or such a role. Directory roles honour the directory's propagation delay.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import Route

from ....core.auth import authenticate
from ....core.directory import Application
from ....core.http import world
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import denied
from ..common.directory import not_found, require_guid
from ..common.routing import Endpoint, graph_route

__all__ = ["CREDENTIALS_ACTION", "application_routes", "authorize_credentials", "find_application", "read_caller"]

CREDENTIALS_ACTION = "microsoft.directory/applications/credentials/update"
_READ_APP = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_READ_DELEGATED = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
_READ_ACTIONS = (
    "microsoft.directory/applications/standard/read",
    "microsoft.directory/applications/basic/update",
    CREDENTIALS_ACTION,
)
_WRITE_APP = ("Application.ReadWrite.All", "Directory.ReadWrite.All")
_WRITE_DELEGATED = ("Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All")


def _role_allows(w: World, caller: Caller, actions: tuple[str, ...], scope: str = "/") -> bool:
    """A directory role grants one of `actions` tenant-wide, or at `scope` (an app registration: Entra roles
    such as Cloud Application Administrator can be assigned scoped to one application)."""
    now = w.clock.now()
    return any(w.directory.can(caller.object_id, a, now, scope) for a in actions)


def read_caller(request: Request) -> Caller:
    """The authenticated caller, refused (403) unless it may read application registrations."""
    w = world(request)
    caller = authenticate(request, w, "graph")
    granted = _READ_APP if caller.is_app else _READ_DELEGATED
    if caller.has_permission(*granted) or _role_allows(w, caller, _READ_ACTIONS):
        return caller
    raise denied()


def find_application(request: Request) -> Application:
    """The application named by `/applications/{id}` (object id) or `/applications(appId='{appId}')`."""
    w = world(request)
    params = request.path_params
    if "client_id" in params:
        client_id = str(params["client_id"])
        found = w.directory.application_by_client_id(client_id.lower()) or w.directory.application_by_client_id(
            client_id
        )
        if found is None:
            raise not_found(client_id)
        return found
    object_id = require_guid(str(params["app_key"]))
    app = w.directory.applications.get(object_id)
    if app is None:
        raise not_found(object_id)
    return app


def authorize_credentials(w: World, caller: Caller, app: Application) -> None:
    """Refuse (403 Authorization_RequestDenied) unless the caller may change `app`'s credentials."""
    if caller.is_app:
        if caller.has_permission(*_WRITE_APP):
            return
        if caller.has_permission("Application.ReadWrite.OwnedBy") and caller.object_id in app.owners:
            return
        if _role_allows(w, caller, (CREDENTIALS_ACTION,), f"/{app.object_id}"):
            return
        raise denied()
    if caller.has_permission(*_WRITE_DELEGATED) and (
        caller.object_id in app.owners or _role_allows(w, caller, (CREDENTIALS_ACTION,), f"/{app.object_id}")
    ):
        return
    raise denied()


def application_routes(suffix: str, endpoint: Endpoint, methods: Sequence[str]) -> list[Route]:
    """`/applications/{id}{suffix}` and `/applications(appId='{appId}'){suffix}`, under v1.0 and beta."""
    return [
        *graph_route(f"/applications/{{app_key}}{suffix}", endpoint, methods),
        *graph_route(f"/applications(appId='{{client_id}}'){suffix}", endpoint, methods),
    ]
