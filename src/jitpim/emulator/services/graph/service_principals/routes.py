"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import create, get_service_principal, list_service_principals

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/servicePrincipals", list_service_principals, ["GET"]),
    *graph_route("/servicePrincipals", create, ["POST"]),
    *graph_route("/servicePrincipals/{sp_key}", get_service_principal, ["GET"]),
    *graph_route("/servicePrincipals(appId='{client_id}')", get_service_principal, ["GET"]),
]
