"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import get_by_ids, get_directory_object, get_organization, list_organization

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/directoryObjects/getByIds", get_by_ids, ["POST"]),
    *graph_route("/directoryObjects/{object_key}", get_directory_object, ["GET"]),
    *graph_route("/organization", list_organization, ["GET"]),
    *graph_route("/organization/{org_key}", get_organization, ["GET"]),
]
