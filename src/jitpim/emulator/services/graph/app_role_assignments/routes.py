"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import add_assignment, list_assignments, remove_assignment

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/servicePrincipals/{sp_key}/appRoleAssignments", list_assignments, ["GET"]),
    *graph_route("/servicePrincipals/{sp_key}/appRoleAssignments", add_assignment, ["POST"]),
    *graph_route("/servicePrincipals/{sp_key}/appRoleAssignments/{assignment_id}", remove_assignment, ["DELETE"]),
]
