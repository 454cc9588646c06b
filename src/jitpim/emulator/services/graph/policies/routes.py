"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import (
    ASSIGNMENTS,
    POLICIES,
    get_assignment,
    get_policy,
    list_assignments,
    list_policies,
    list_rules,
    patch_policy,
    rule,
)

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route(POLICIES, list_policies, ["GET"]),
    *graph_route(POLICIES + "/{key}", get_policy, ["GET"]),
    *graph_route(POLICIES + "/{key}", patch_policy, ["PATCH"]),
    *graph_route(POLICIES + "/{key}/rules", list_rules, ["GET"]),
    *graph_route(POLICIES + "/{key}/effectiveRules", list_rules, ["GET"]),
    *graph_route(POLICIES + "/{key}/rules/{rule}", rule, ["GET", "PATCH"]),
    *graph_route(POLICIES + "/{key}/effectiveRules/{rule}", rule, ["GET"]),
    *graph_route(ASSIGNMENTS, list_assignments, ["GET"]),
    *graph_route(ASSIGNMENTS + "/{key}", get_assignment, ["GET"]),
]
