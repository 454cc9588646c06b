"""What every application request goes through: the caller, refused unless it may read application
registrations, and the application the path names (by object id or appId); and the two path forms every
application route has."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import Route

from ....core.auth import authenticate
from ....core.directory import Application
from ....core.http import world
from ....core.tokens import Caller
from ..common.errors import denied, not_found, require_guid
from ..common.routing import Endpoint, graph_route
from .authz import READ_ACTIONS, READ_APP, READ_DELEGATED, role_allows

__all__ = ["application_routes", "find_application", "read_caller"]


def read_caller(request: Request) -> Caller:
    """The authenticated caller, refused (403) unless it may read application registrations."""
    w = world(request)
    caller = authenticate(request, w, "graph")
    granted = READ_APP if caller.is_app else READ_DELEGATED
    if caller.has_permission(*granted) or role_allows(w, caller, READ_ACTIONS):
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


def application_routes(suffix: str, endpoint: Endpoint, methods: Sequence[str]) -> list[Route]:
    """`/applications/{id}{suffix}` and `/applications(appId='{appId}'){suffix}`, under v1.0 and beta."""
    return [
        *graph_route(f"/applications/{{app_key}}{suffix}", endpoint, methods),
        *graph_route(f"/applications(appId='{{client_id}}'){suffix}", endpoint, methods),
    ]
