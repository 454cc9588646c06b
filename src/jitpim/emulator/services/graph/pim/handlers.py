"""HTTP handlers shared by the directory-role and group PIM entity sets: list, get, `filterByCurrentUser`,
create request, cancel. Each entity set is described once (`EntitySet`) and gets its routes from `routes_for`.

Reads: an app needs only the permission. A user needs the permission plus a PIM reader or admin role to
list everyone's rows; without one, a list whose `$filter` pins `principalId` to the user, `filterByCurrentUser`,
and a GET of the user's own row still work, anything else is 403 `UnauthorizedAccessException`.
Group lists without a `groupId`/`principalId` filter answer an empty collection, as Graph does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....core.auth import authenticate
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.tokens import Caller
from ..approvals.backend import can_decide
from ..common.odata import collection, entity
from ..common.routing import graph_route
from .authz import (
    is_group_manager,
    is_pim_reader,
    request_permissions,
    require_scope,
    schedule_read_permissions,
    unauthorized,
)
from .backend import cancel, submit
from .models import Kind, Level, request_json
from .shapes import expand_item, instance_rows, request_rows, schedule_rows
from .store import GraphState

__all__ = ["EntitySet", "routes_for"]

_FBCU = re.compile(r"^filterByCurrentUser\(on='?([A-Za-z]+)'?\)$", re.IGNORECASE)


@dataclass(frozen=True)
class EntitySet:
    kind: Kind
    level: Level
    what: str  # schedules | instances | requests
    path: str  # URL path under the version, e.g. /roleManagement/directory/roleEligibilitySchedules
    type_name: str  # the entity type, e.g. unifiedRoleEligibilitySchedule

    @property
    def context(self) -> str:
        return self.path.lstrip("/")

    @property
    def expandable(self) -> set[str]:
        nav = {"principal", "activatedUsing"} if self.what != "instances" else {"principal"}
        return nav | ({"roleDefinition"} if self.kind == "directory" else {"group"})

    def rows(self, state: GraphState, now: datetime) -> list[dict[str, Any]]:
        if self.what == "schedules":
            return schedule_rows(state, self.kind, self.level, now)
        if self.what == "instances":
            return instance_rows(state, self.kind, self.level, now)
        return request_rows(state, self.kind, self.level)


def _state(request: Request) -> GraphState:
    return world(request).service("graph", GraphState)


def _read_scope(caller: Caller, es: EntitySet) -> None:
    if es.what == "requests":
        accepted, named = request_permissions(es.kind, es.level, write=False)
    else:
        accepted, named = schedule_read_permissions(es.kind, es.level)
    require_scope(caller, accepted, named)


def _expand(request: Request, es: EntitySet) -> set[str]:
    raw = request.query_params.get("$expand")
    if not raw:
        return set()
    wanted = {re.sub(r"\(.*\)$", "", part).strip() for part in re.split(r",(?![^()]*\))", raw) if part.strip()}
    unknown = wanted - es.expandable
    if unknown:
        name = sorted(unknown)[0]
        raise GraphError(
            400, "BadRequest", f"Could not find a property named '{name}' on type 'microsoft.graph.{es.type_name}'."
        )
    return wanted


def _pins(flt: str | None, prop: str, value: str | None = None) -> bool:
    if not flt:
        return False
    for match in re.finditer(rf"\b{prop}\s+eq\s+'([^']*)'", flt, re.IGNORECASE):
        if value is None or match.group(1).lower() == value.lower():
            return True
    return False


def _own(row: dict[str, Any], caller: Caller) -> bool:
    me = caller.object_id.lower()
    created = row.get("createdBy") or {}
    creator = ((created.get("user") or {}).get("id") or "") if isinstance(created, dict) else ""
    return str(row.get("principalId", "")).lower() == me or str(creator).lower() == me


def _may_read_all(state: GraphState, caller: Caller, es: EntitySet, flt: str | None, now: datetime) -> bool:
    if caller.is_app or is_pim_reader(state.world, caller.object_id, now):
        return True
    if _pins(flt, "principalId", caller.object_id):
        return True
    if es.kind == "group":
        match = re.search(r"\bgroupId\s+eq\s+'([^']*)'", flt or "", re.IGNORECASE)
        if match and is_group_manager(state.world, caller.object_id, match.group(1), "member", now):
            return True
    return False


def _list_handler(es: EntitySet) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        expand = _expand(request, es)
        with w.lock:
            now = w.clock.now()
            state = _state(request)
            _read_scope(caller, es)
            flt = request.query_params.get("$filter")
            if not _may_read_all(state, caller, es, flt, now):
                raise unauthorized()
            rows = es.rows(state, now)
            if es.kind == "group" and not (_pins(flt, "groupId") or _pins(flt, "principalId")):
                rows = []  # Graph answers an empty list, not an error, when the required filter is missing
            rows = [expand_item(state, r, expand) for r in rows] if expand else rows
            return json_response(collection(request, rows, es.context))

    return handler


def _current_user_rows(
    state: GraphState, es: EntitySet, caller: Caller, on: str, now: datetime
) -> list[dict[str, Any]]:
    rows = es.rows(state, now)
    me = caller.object_id.lower()
    if on == "principal":
        return [r for r in rows if str(r.get("principalId", "")).lower() == me]
    if on == "createdBy":

        def creator(r: dict[str, Any]) -> str:
            created = r.get("createdBy") or {}
            who = created.get("user") or created.get("application") or {}
            return str(who.get("id") or "").lower()

        mine = {me, (caller.app_id or "").lower()} - {""}
        return [r for r in rows if creator(r) in mine]
    approvable = {
        a.id for a in state.approvals.values() if not a.decided and can_decide(state, a, caller.object_id, now)
    }
    return [r for r in rows if r.get("approvalId") in approvable]


def _item_handler(es: EntitySet) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        key = request.path_params["key"]
        expand = _expand(request, es)
        with w.lock:
            now = w.clock.now()
            state = _state(request)
            _read_scope(caller, es)
            match = _FBCU.match(key)
            if match:
                on = next(
                    (v for v in ("principal", "createdBy", "approver") if v.lower() == match.group(1).lower()), None
                )
                allowed = ("principal", "createdBy", "approver") if es.what == "requests" else ("principal",)
                if on is None or on not in allowed:
                    raise GraphError(
                        400, "BadRequest", f"Requested value '{match.group(1)}' was not found for parameter 'on'."
                    )
                rows = _current_user_rows(state, es, caller, on, now)
                rows = [expand_item(state, r, expand) for r in rows] if expand else rows
                return json_response(collection(request, rows, f"Collection({es.type_name})"))
            row = next((r for r in es.rows(state, now) if str(r.get("id")) == key), None)
            if row is None:
                raise GraphError(404, "ResourceNotFound", f"The {es.type_name} with id '{key}' was not found.")
            if not (caller.is_app or is_pim_reader(w, caller.object_id, now) or _own(row, caller)):
                group_id = str(row.get("groupId") or "")
                if not (es.kind == "group" and is_group_manager(w, caller.object_id, group_id, "member", now)):
                    raise unauthorized()
            row = expand_item(state, row, expand) if expand else row
            return json_response(entity(request, row, es.context))

    return handler


def _create_handler(es: EntitySet) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        body = await json_body(request, GraphError)
        with w.lock:
            now = w.clock.now()
            req = submit(_state(request), caller, es.kind, es.level, body, now)
            return json_response(entity(request, request_json(req), es.context), status=201)

    return handler


def _cancel_handler(es: EntitySet) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        with w.lock:
            cancel(_state(request), caller, es.kind, es.level, request.path_params["key"], w.clock.now())
        return no_content()

    return handler


def routes_for(es: EntitySet) -> list[Route]:
    routes = [
        *graph_route(es.path, _list_handler(es), ["GET"]),
        *graph_route(es.path + "/{key}", _item_handler(es), ["GET"]),
    ]
    if es.what == "requests":
        routes += [
            *graph_route(es.path, _create_handler(es), ["POST"]),
            *graph_route(es.path + "/{key}/cancel", _cancel_handler(es), ["POST"]),
        ]
    return routes
