"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import (
    create_assignment,
    delete_assignment,
    get_assignment,
    get_definition,
    list_assignments,
    list_definitions,
)

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/roleManagement/directory/roleDefinitions", list_definitions, ["GET"]),
    *graph_route("/roleManagement/directory/roleDefinitions/{definition_key}", get_definition, ["GET"]),
    *graph_route("/roleManagement/directory/roleAssignments", list_assignments, ["GET"]),
    *graph_route("/roleManagement/directory/roleAssignments", create_assignment, ["POST"]),
    *graph_route("/roleManagement/directory/roleAssignments/{assignment_key}", get_assignment, ["GET"]),
    *graph_route("/roleManagement/directory/roleAssignments/{assignment_key}", delete_assignment, ["DELETE"]),
]
