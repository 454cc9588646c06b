"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .context import application_routes
from .handlers import add_password, create, get_application, list_applications, list_owners, remove_password

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/applications", list_applications, ["GET"]),
    *graph_route("/applications", create, ["POST"]),
    *application_routes("", get_application, ["GET"]),
    *application_routes("/owners", list_owners, ["GET"]),
    *application_routes("/addPassword", add_password, ["POST"]),
    *application_routes("/removePassword", remove_password, ["POST"]),
]
