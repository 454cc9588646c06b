"""Users: list (`$filter` on userPrincipalName/displayName/mail, `startswith`), get by object id or UPN,
`/me` for delegated tokens, and `memberOf` of users, service principals and the signed-in user.

Without `$select`, users come back with Graph's default property set; other properties need `$select`.
`memberOf` lists the groups whose membership is in effect now (standing, or PIM-activated and started) and
the directory roles assigned directly and active now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.directory import User
from ....core.errors import GraphError
from ....core.http import json_response, world
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import require
from ..common.directory import listing, single
from ..common.errors import denied, not_found, require_guid
from ..common.shapes import DEFAULT_USER_FIELDS, directory_role_json, group_json, user_json
from ..service_principals.handlers import service_principal_of

__all__ = ["get_me", "get_user", "list_users", "me_member_of", "service_principal_member_of", "user_member_of"]

_TYPE = "Microsoft.DirectoryServices.User"
_FILTERABLE = {
    "userPrincipalName",
    "displayName",
    "mail",
    "id",
    "accountEnabled",
    "userType",
    "mailNickname",
    "givenName",
    "surname",
    "jobTitle",
    "createdDateTime",
}
_READ_APP = (
    "User.Read.All",
    "User.ReadWrite.All",
    "User.ReadBasic.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_READ_DELEGATED = (*_READ_APP, "Directory.AccessAsUser.All")
_MEMBER_OF = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "User.Read.All",
)


def find_user(w: World, key: str) -> User:
    """A user by object id or userPrincipalName (Graph accepts either in `/users/{id | upn}`)."""
    if "@" in key:
        found = w.directory.user_by_upn(key)
        if found is None:
            raise not_found(key)
        return found
    user = w.directory.users.get(require_guid(key))
    if user is None:
        raise not_found(key)
    return user


def _delegated_caller(request: Request) -> Caller:
    caller = authenticate(request, world(request), "graph")
    if caller.is_app:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    return caller


async def list_users(request: Request) -> Response:
    w = world(request)
    require(
        request,
        app=_READ_APP,
        delegated=_READ_DELEGATED,
        directory_actions=("microsoft.directory/users/standard/read",),
    )
    with w.lock:
        rows = [user_json(u) for u in w.directory.users.values()]
    return json_response(
        listing(
            request,
            rows,
            "users",
            resource="User",
            type_name=_TYPE,
            fields=_FILTERABLE,
            order_fields={"displayName", "userPrincipalName"},
            default_fields=DEFAULT_USER_FIELDS,
        )
    )


async def get_user(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    with w.lock:
        user = find_user(w, str(request.path_params["user_key"]))
        own = not caller.is_app and caller.object_id == user.object_id and caller.has_permission("User.Read")
        if not own:
            require(
                request,
                app=_READ_APP,
                delegated=_READ_DELEGATED,
                directory_actions=("microsoft.directory/users/standard/read",),
            )
        item = user_json(user)
    return json_response(single(request, item, "users", type_name=_TYPE, default_fields=DEFAULT_USER_FIELDS))


async def get_me(request: Request) -> Response:
    w = world(request)
    caller = _delegated_caller(request)
    if not caller.has_permission("User.Read", "User.ReadWrite", *_READ_DELEGATED):
        raise denied()
    with w.lock:
        user = w.directory.users.get(caller.object_id)
        if user is None:
            raise not_found(caller.object_id)
        item = user_json(user)
    return json_response(single(request, item, "users", type_name=_TYPE, default_fields=DEFAULT_USER_FIELDS))


def member_of(w: World, object_id: str, now: datetime, *, transitive: bool = False) -> list[dict[str, Any]]:
    """Groups the principal belongs to now, then directory roles assigned to it (to it or, transitively,
    to one of its groups) and active now."""
    groups = {g.object_id for g in w.directory.groups.values() if (m := g.members.get(object_id)) and m.active(now)}
    if transitive:
        frontier = set(groups)
        while frontier:
            nested = {
                g.object_id
                for g in w.directory.groups.values()
                if g.object_id not in groups and any((m := g.members.get(x)) and m.active(now) for x in frontier)
            }
            groups |= nested
            frontier = nested
    holders = {object_id} | (groups if transitive else set())
    rows: list[dict[str, Any]] = [
        {"@odata.type": "#microsoft.graph.group", **group_json(w.directory.groups[g])} for g in sorted(groups)
    ]
    role_ids = sorted(
        {
            a.role_definition_id
            for a in w.directory.role_assignments
            if a.principal_id in holders and a.directory_scope_id == "/" and a.active(now)
        }
    )
    rows.extend(
        directory_role_json(w, w.directory.role_definitions[r]) for r in role_ids if r in w.directory.role_definitions
    )
    return rows


def _member_of_response(request: Request, w: World, object_id: str) -> Response:
    transitive = request.url.path.endswith("/transitiveMemberOf")
    with w.lock:
        rows = member_of(w, object_id, w.clock.now(), transitive=transitive)
    return json_response(
        listing(
            request,
            rows,
            "directoryObjects",
            resource="DirectoryObject",
            type_name="Microsoft.DirectoryServices.DirectoryObject",
            fields={"id", "displayName"},
        )
    )


async def user_member_of(request: Request) -> Response:
    w = world(request)
    require(
        request,
        app=_MEMBER_OF,
        delegated=(*_MEMBER_OF, "Directory.AccessAsUser.All"),
        directory_actions=("microsoft.directory/users/memberOf/read",),
    )
    with w.lock:
        user = find_user(w, str(request.path_params["user_key"]))
    return _member_of_response(request, w, user.object_id)


async def me_member_of(request: Request) -> Response:
    w = world(request)
    caller = _delegated_caller(request)
    if not caller.has_permission("User.Read", *_MEMBER_OF, "Directory.AccessAsUser.All"):
        raise denied()
    return _member_of_response(request, w, caller.object_id)


async def service_principal_member_of(request: Request) -> Response:
    w = world(request)
    require(
        request,
        app=(*_MEMBER_OF, "Application.Read.All"),
        delegated=(*_MEMBER_OF, "Application.Read.All", "Directory.AccessAsUser.All"),
        directory_actions=("microsoft.directory/servicePrincipals/memberOf/read",),
    )
    with w.lock:
        sp = service_principal_of(request)
    return _member_of_response(request, w, sp.object_id)
