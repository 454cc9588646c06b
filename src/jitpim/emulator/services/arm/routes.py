"""Routes of the emulated Azure Resource Manager, rooted at `/subscriptions/...` and `/providers/...`.

ARM paths are case-insensitive and Microsoft.Authorization types are extension resources of any scope
(`/{scope}/providers/Microsoft.Authorization/{type}/...`, the scope possibly empty), so one route takes every
such request and splits it here: the scope is everything before the last
`/providers/Microsoft.Authorization/`, the rest names the type, the item and its action. Each request is
authenticated, its api-version checked for that type, its body read, and then the handler runs under the
world lock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from ...core.auth import authenticate
from ...core.errors import ArmError
from ...core.http import json_body, world
from . import approvals, pim_eligibility, pim_reads, pim_requests, policy_routes, resources, role_assignments
from . import role_definitions as definitions
from .api import (
    API_VERSIONS,
    KEYVAULT_VERSIONS,
    RESOURCE_MANAGER_VERSIONS,
    Ctx,
    check_api_version,
    parse_scope,
    require_subscription,
)

__all__ = ["ROUTES", "ArmRoute"]

Handler = Callable[[Ctx], Response]

# "{type}[/*[/{keyword}[/*]]]" -> method -> handler. `*` stands for an item name.
_TABLE: dict[str, dict[str, Handler]] = {
    "roledefinitions": {"GET": definitions.list_role_definitions},
    "roledefinitions/*": {"GET": definitions.get_role_definition},
    "permissions": {"GET": definitions.list_permissions},
    "roleassignments": {"GET": role_assignments.list_role_assignments},
    "roleassignments/*": {
        "GET": role_assignments.get_role_assignment,
        "PUT": role_assignments.put_role_assignment,
        "DELETE": role_assignments.delete_role_assignment,
    },
    "roleassignmentschedulerequests": {"GET": pim_requests.list_requests},
    "roleassignmentschedulerequests/*": {"GET": pim_requests.get_request, "PUT": pim_requests.put_request},
    "roleassignmentschedulerequests/*/cancel": {"POST": pim_requests.cancel_request},
    "roleassignmentschedulerequests/*/validate": {"POST": pim_requests.validate_request},
    "roleeligibilityschedulerequests": {"GET": pim_eligibility.list_eligibility_requests},
    "roleeligibilityschedulerequests/*": {
        "GET": pim_eligibility.get_eligibility_request,
        "PUT": pim_eligibility.put_eligibility_request,
    },
    "roleeligibilityschedulerequests/*/cancel": {"POST": pim_eligibility.cancel_eligibility_request},
    "roleeligibilityschedulerequests/*/validate": {"POST": pim_eligibility.validate_eligibility_request},
    "roleassignmentschedules": {"GET": pim_reads.list_assignment_schedules},
    "roleassignmentschedules/*": {"GET": pim_reads.get_assignment_schedule},
    "roleassignmentscheduleinstances": {"GET": pim_reads.list_assignment_instances},
    "roleassignmentscheduleinstances/*": {"GET": pim_reads.get_assignment_instance},
    "roleeligibilityschedules": {"GET": pim_reads.list_eligibility_schedules},
    "roleeligibilityschedules/*": {"GET": pim_reads.get_eligibility_schedule},
    "roleeligibilityscheduleinstances": {"GET": pim_reads.list_eligibility_instances},
    "roleeligibilityscheduleinstances/*": {"GET": pim_reads.get_eligibility_instance},
    "rolemanagementpolicies": {"GET": policy_routes.list_policies},
    "rolemanagementpolicies/*": {"GET": policy_routes.get_policy, "PATCH": policy_routes.patch_policy},
    "rolemanagementpolicyassignments": {"GET": policy_routes.list_policy_assignments},
    "rolemanagementpolicyassignments/*": {"GET": policy_routes.get_policy_assignment},
    "roleassignmentapprovals": {"GET": approvals.list_approvals},
    "roleassignmentapprovals/*": {"GET": approvals.get_approval},
    "roleassignmentapprovals/*/stages": {"GET": approvals.list_stages},
    "roleassignmentapprovals/*/stages/*": {
        "GET": approvals.get_stage,
        "PUT": approvals.review_stage,
        "PATCH": approvals.review_stage,
    },
}
_KEYWORDS = {"cancel", "validate", "stages"}
# Spellings the service also answers to: the legacy approval `steps` segment, and the singular segment the
# policy assignment ids carry.
_ALIASES = {"steps": "stages", "rolemanagementpolicyassignment": "rolemanagementpolicyassignments"}
_AUTHZ = "/providers/microsoft.authorization/"
_METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS")


def _not_supported(method: str) -> ArmError:
    return ArmError(405, "NoRegisteredProviderFound", f"The HTTP method '{method}' is not supported.")


def _resource_type_not_found(type_name: str, version: str | None) -> ArmError:
    return ArmError(
        404,
        "InvalidResourceType",
        f"The resource type '{type_name}' could not be found in the "
        f"namespace 'Microsoft.Authorization' for api version '{version}'.",
    )


def _split(path: str) -> tuple[str, list[str]] | None:
    """(scope, [type, name, ...]) for a Microsoft.Authorization path, None for other paths."""
    idx = path.lower().rfind(_AUTHZ)
    if idx < 0:
        if path.lower().endswith(_AUTHZ.rstrip("/")):
            return path[: len(path) - len(_AUTHZ) + 1] or "/", []
        return None
    return path[:idx] or "/", [p for p in path[idx + len(_AUTHZ) :].split("/") if p]


def _resource_handler(path: str, method: str) -> tuple[Handler, tuple[str, ...], str]:
    """(handler, api versions, scope) for the Microsoft.Resources / Microsoft.KeyVault reads."""
    raw = [p for p in path.split("/") if p]
    parts = [p.lower() for p in raw]
    handler: Handler | None = None
    versions = RESOURCE_MANAGER_VERSIONS
    scope = path
    if parts == ["subscriptions"]:
        handler, scope = resources.list_subscriptions, "/"
    elif len(parts) == 2:
        handler = resources.get_subscription
    elif len(parts) == 3 and parts[2] == "resourcegroups":
        handler, scope = resources.list_resource_groups, "/" + "/".join(raw[:2])
    elif len(parts) == 4 and parts[2] == "resourcegroups":
        handler = resources.get_resource_group
    elif (
        len(parts) == 8 and parts[2] == "resourcegroups" and parts[4:7] == ["providers", "microsoft.keyvault", "vaults"]
    ):
        handler, versions = resources.get_vault, KEYVAULT_VERSIONS
    if handler is None:
        raise ArmError(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")
    if method != "GET":
        raise _not_supported(method)
    return handler, versions, scope


async def dispatch(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "arm")
    path = re.sub("/{2,}", "/", request.url.path)
    method = request.method.upper()
    query = {k.lower(): v for k, v in request.query_params.items()}
    split = _split(path)
    if split is None:
        handler, versions, scope_path = _resource_handler(path, method)
        api_version = check_api_version(query, None, versions)
        names: list[str] = []
    else:
        scope_path, segments = split
        type_name = segments[0].lower() if segments else ""
        type_name = _ALIASES.get(type_name, type_name)
        if type_name not in API_VERSIONS:
            raise _resource_type_not_found(segments[0] if segments else "", query.get("api-version"))
        api_version = check_api_version(query, segments[0], API_VERSIONS[type_name])
        names = segments[1:]
        key = "/".join(
            [type_name]
            + [
                _ALIASES.get(n.lower(), n.lower()) if _ALIASES.get(n.lower(), n.lower()) in _KEYWORDS else "*"
                for n in names
            ]
        )
        methods = _TABLE.get(key)
        if methods is None:
            raise _resource_type_not_found(segments[0], api_version)
        found = methods.get(method)
        if found is None:
            raise _not_supported(method)
        handler = found
    body = (
        await json_body(request, ArmError, code="InvalidRequestContent") if method in ("PUT", "PATCH", "POST") else {}
    )
    with w.lock:
        scope = parse_scope(w, scope_path)
        require_subscription(w, scope)
        ctx = Ctx(
            world=w,
            caller=caller,
            method=method,
            scope=scope,
            names=names,
            query=query,
            body=body,
            api_version=api_version,
        )
        response = handler(ctx)
    rid = str(request.scope.setdefault("jitpim.request_id", str(uuid.uuid4())))
    response.headers["x-ms-request-id"] = rid
    response.headers["x-ms-correlation-request-id"] = request.headers.get("x-ms-correlation-request-id") or rid
    budget = "x-ms-ratelimit-remaining-subscription-" + ("reads" if method == "GET" else "writes")
    response.headers[budget] = "11999" if method == "GET" else "1199"
    return response


class ArmRoute(BaseRoute):
    """Matches every path under `/subscriptions` and `/providers` (case-insensitively) for every method."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = re.sub("/{2,}", "/", scope.get("path", "")).lower()
        if path == "/subscriptions" or path.startswith(("/subscriptions/", "/providers/")):
            return Match.FULL, {"endpoint": dispatch}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in _METHODS:
            raise _not_supported(scope["method"])
        response = await dispatch(Request(scope, receive))
        await response(scope, receive, send)


ROUTES: list[BaseRoute] = [ArmRoute()]
