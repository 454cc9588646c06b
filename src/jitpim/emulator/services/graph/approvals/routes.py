"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import DIRECTORY, GROUP, get_approval, list_steps, not_in_v1, step

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route(DIRECTORY + "/{key}", get_approval("directory"), ["GET"], versions=("beta",)),
    *graph_route(DIRECTORY + "/{key}/steps", list_steps("directory", "steps"), ["GET"], versions=("beta",)),
    *graph_route(DIRECTORY + "/{key}/steps/{step}", step("directory"), ["GET", "PATCH"], versions=("beta",)),
    *graph_route(DIRECTORY, not_in_v1, ["GET", "POST", "PATCH"], versions=("v1.0",)),
    *graph_route(DIRECTORY + "/{rest:path}", not_in_v1, ["GET", "POST", "PATCH"], versions=("v1.0",)),
    *graph_route(GROUP + "/{key}", get_approval("group"), ["GET"]),
    *graph_route(GROUP + "/{key}/stages", list_steps("group", "stages"), ["GET"]),
    *graph_route(GROUP + "/{key}/stages/{step}", step("group"), ["GET", "PATCH"]),
    *graph_route(GROUP + "/{key}/steps", list_steps("group", "steps"), ["GET"], versions=("beta",)),
    *graph_route(GROUP + "/{key}/steps/{step}", step("group"), ["GET", "PATCH"], versions=("beta",)),
]
