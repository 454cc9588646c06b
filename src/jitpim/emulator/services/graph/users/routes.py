"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import get_me, get_user, list_users, me_member_of, service_principal_member_of, user_member_of

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/users", list_users, ["GET"]),
    *graph_route("/users/{user_key}", get_user, ["GET"]),
    *graph_route("/users/{user_key}/memberOf", user_member_of, ["GET"]),
    *graph_route("/users/{user_key}/transitiveMemberOf", user_member_of, ["GET"]),
    *graph_route("/me", get_me, ["GET"]),
    *graph_route("/me/memberOf", me_member_of, ["GET"]),
    *graph_route("/me/transitiveMemberOf", me_member_of, ["GET"]),
    *graph_route("/servicePrincipals/{sp_key}/memberOf", service_principal_member_of, ["GET"]),
    *graph_route("/servicePrincipals/{sp_key}/transitiveMemberOf", service_principal_member_of, ["GET"]),
]
