"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import add_ref, get_group, list_groups, list_refs, list_related, remove_ref

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/groups", list_groups, ["GET"]),
    *graph_route("/groups/{group_key}", get_group, ["GET"]),
]
for _relation_name in ("members", "owners"):
    ROUTES += [
        *graph_route(f"/groups/{{group_key}}/{_relation_name}", list_related, ["GET"]),
        *graph_route(f"/groups/{{group_key}}/{_relation_name}/$ref", list_refs, ["GET"]),
        *graph_route(f"/groups/{{group_key}}/{_relation_name}/$ref", add_ref, ["POST"]),
        *graph_route(f"/groups/{{group_key}}/{_relation_name}/{{member_key}}/$ref", remove_ref, ["DELETE"]),
    ]
