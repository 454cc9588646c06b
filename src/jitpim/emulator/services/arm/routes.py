"""Routes of the emulated Azure Resource Manager, rooted at `/subscriptions/...` and `/providers/...`.

ARM paths are case-insensitive and Microsoft.Authorization types are extension resources of any scope
(`/{scope}/providers/Microsoft.Authorization/{type}/...`, the scope possibly empty), so a request path is
classified here once (`classify`): the scope is everything before the last `/providers/Microsoft.Authorization/`,
the rest names the type, the item and its action. Each operation is a Starlette `Route` whose matching uses
that classification (so the routing table documents every operation), and a last catch-all answers ARM's
errors for anything else under `/subscriptions` and `/providers`.

Every request is authenticated, its api-version checked for its type, its body read, and then the handler
runs under the world lock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
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

__all__ = ["ROUTES", "ArmFallback", "ArmOperation", "Target", "classify"]

Handler = Callable[[Ctx], Response]
_AUTHZ = "/providers/microsoft.authorization/"
_KEYWORDS = {"cancel", "validate", "stages"}
# Spellings the service also answers to: the legacy approval `steps` segment, and the singular segment the
# policy assignment ids carry.
_ALIASES = {"steps": "stages", "rolemanagementpolicyassignment": "rolemanagementpolicyassignments"}
_P = "/{scope}/providers/Microsoft.Authorization"
_SUB = "/subscriptions/{subscriptionId}"

# (classification key, documented path, handlers by method). `*` in a key stands for an item name.
_OPERATIONS: list[tuple[str, str, dict[str, Handler]]] = [
    ("roledefinitions", f"{_P}/roleDefinitions", {"GET": definitions.list_role_definitions}),
    ("roledefinitions/*", f"{_P}/roleDefinitions/{{roleDefinitionId}}", {"GET": definitions.get_role_definition}),
    ("permissions", f"{_P}/permissions", {"GET": definitions.list_permissions}),
    ("roleassignments", f"{_P}/roleAssignments", {"GET": role_assignments.list_role_assignments}),
    (
        "roleassignments/*",
        f"{_P}/roleAssignments/{{roleAssignmentName}}",
        {
            "GET": role_assignments.get_role_assignment,
            "PUT": role_assignments.put_role_assignment,
            "DELETE": role_assignments.delete_role_assignment,
        },
    ),
    ("roleassignmentschedulerequests", f"{_P}/roleAssignmentScheduleRequests", {"GET": pim_requests.list_requests}),
    (
        "roleassignmentschedulerequests/*",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}",
        {"GET": pim_requests.get_request, "PUT": pim_requests.put_request},
    ),
    (
        "roleassignmentschedulerequests/*/cancel",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}/cancel",
        {"POST": pim_requests.cancel_request},
    ),
    (
        "roleassignmentschedulerequests/*/validate",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}/validate",
        {"POST": pim_requests.validate_request},
    ),
    (
        "roleeligibilityschedulerequests",
        f"{_P}/roleEligibilityScheduleRequests",
        {"GET": pim_eligibility.list_eligibility_requests},
    ),
    (
        "roleeligibilityschedulerequests/*",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}",
        {"GET": pim_eligibility.get_eligibility_request, "PUT": pim_eligibility.put_eligibility_request},
    ),
    (
        "roleeligibilityschedulerequests/*/cancel",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}/cancel",
        {"POST": pim_eligibility.cancel_eligibility_request},
    ),
    (
        "roleeligibilityschedulerequests/*/validate",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}/validate",
        {"POST": pim_eligibility.validate_eligibility_request},
    ),
    ("roleassignmentschedules", f"{_P}/roleAssignmentSchedules", {"GET": pim_reads.list_assignment_schedules}),
    ("roleassignmentschedules/*", f"{_P}/roleAssignmentSchedules/{{name}}", {"GET": pim_reads.get_assignment_schedule}),
    (
        "roleassignmentscheduleinstances",
        f"{_P}/roleAssignmentScheduleInstances",
        {"GET": pim_reads.list_assignment_instances},
    ),
    (
        "roleassignmentscheduleinstances/*",
        f"{_P}/roleAssignmentScheduleInstances/{{name}}",
        {"GET": pim_reads.get_assignment_instance},
    ),
    ("roleeligibilityschedules", f"{_P}/roleEligibilitySchedules", {"GET": pim_reads.list_eligibility_schedules}),
    (
        "roleeligibilityschedules/*",
        f"{_P}/roleEligibilitySchedules/{{name}}",
        {"GET": pim_reads.get_eligibility_schedule},
    ),
    (
        "roleeligibilityscheduleinstances",
        f"{_P}/roleEligibilityScheduleInstances",
        {"GET": pim_reads.list_eligibility_instances},
    ),
    (
        "roleeligibilityscheduleinstances/*",
        f"{_P}/roleEligibilityScheduleInstances/{{name}}",
        {"GET": pim_reads.get_eligibility_instance},
    ),
    ("rolemanagementpolicies", f"{_P}/roleManagementPolicies", {"GET": policy_routes.list_policies}),
    (
        "rolemanagementpolicies/*",
        f"{_P}/roleManagementPolicies/{{policyName}}",
        {"GET": policy_routes.get_policy, "PATCH": policy_routes.patch_policy},
    ),
    (
        "rolemanagementpolicyassignments",
        f"{_P}/roleManagementPolicyAssignments",
        {"GET": policy_routes.list_policy_assignments},
    ),
    (
        "rolemanagementpolicyassignments/*",
        f"{_P}/roleManagementPolicyAssignments/{{policyName}}_{{roleDefinitionId}}",
        {"GET": policy_routes.get_policy_assignment},
    ),
    ("roleassignmentapprovals", f"{_P}/roleAssignmentApprovals", {"GET": approvals.list_approvals}),
    ("roleassignmentapprovals/*", f"{_P}/roleAssignmentApprovals/{{approvalId}}", {"GET": approvals.get_approval}),
    (
        "roleassignmentapprovals/*/stages",
        f"{_P}/roleAssignmentApprovals/{{approvalId}}/stages",
        {"GET": approvals.list_stages},
    ),
    (
        "roleassignmentapprovals/*/stages/*",
        f"{_P}/roleAssignmentApprovals/{{approvalId}}/stages/{{stageId}}",
        {"GET": approvals.get_stage, "PUT": approvals.review_stage, "PATCH": approvals.review_stage},
    ),
    ("resource:subscriptions", "/subscriptions", {"GET": resources.list_subscriptions}),
    ("resource:subscription", _SUB, {"GET": resources.get_subscription}),
    ("resource:resourcegroups", f"{_SUB}/resourcegroups", {"GET": resources.list_resource_groups}),
    ("resource:resourcegroup", f"{_SUB}/resourcegroups/{{resourceGroupName}}", {"GET": resources.get_resource_group}),
    ("resource:vaults", f"{_SUB}/providers/Microsoft.KeyVault/vaults", {"GET": resources.list_vaults}),
    (
        "resource:vault",
        f"{_SUB}/resourceGroups/{{resourceGroupName}}/providers/Microsoft.KeyVault/vaults/{{vaultName}}",
        {"GET": resources.get_vault},
    ),
]


@dataclass(frozen=True)
class Target:
    """What an ARM request path addresses."""

    key: str
    scope: str
    names: list[str]
    type_segment: str | None  # the Microsoft.Authorization type as sent; None for resource reads
    versions: tuple[str, ...]


def _classify_resource(path: str) -> Target | ArmError:
    raw = [p for p in path.split("/") if p]
    parts = [p.lower() for p in raw]
    if parts == ["subscriptions"]:
        return Target("resource:subscriptions", "/", [], None, RESOURCE_MANAGER_VERSIONS)
    if len(parts) == 2:
        return Target("resource:subscription", path, [], None, RESOURCE_MANAGER_VERSIONS)
    if len(parts) == 3 and parts[2] == "resourcegroups":
        return Target("resource:resourcegroups", "/" + "/".join(raw[:2]), [], None, RESOURCE_MANAGER_VERSIONS)
    if len(parts) == 4 and parts[2] == "resourcegroups":
        return Target("resource:resourcegroup", path, [], None, RESOURCE_MANAGER_VERSIONS)
    if len(parts) == 5 and parts[2:5] == ["providers", "microsoft.keyvault", "vaults"]:
        return Target("resource:vaults", "/" + "/".join(raw[:2]), [], None, KEYVAULT_VERSIONS)
    if len(parts) == 8 and parts[2] == "resourcegroups" and parts[4:7] == ["providers", "microsoft.keyvault", "vaults"]:
        return Target("resource:vault", path, [], None, KEYVAULT_VERSIONS)
    return ArmError(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")


def classify(path: str) -> Target | ArmError | None:
    """The target of an ARM path; an ArmError for an ARM path that names nothing served here; None for a path
    outside ARM."""
    path = re.sub("/{2,}", "/", path)
    lowered = path.lower()
    if not (lowered.rstrip("/") == "/subscriptions" or lowered.startswith(("/subscriptions/", "/providers/"))):
        return None
    idx = lowered.rfind(_AUTHZ)
    if idx < 0:
        if lowered.rstrip("/").endswith(_AUTHZ.rstrip("/")):
            return ArmError(
                404,
                "InvalidResourceType",
                "The resource type '' could not be found in the namespace 'Microsoft.Authorization'.",
            )
        return _classify_resource(path.rstrip("/") or "/")
    segments = [p for p in path[idx + len(_AUTHZ) :].split("/") if p]
    type_name = _ALIASES.get(segments[0].lower(), segments[0].lower())
    if type_name not in API_VERSIONS:
        return ArmError(
            404,
            "InvalidResourceType",
            f"The resource type '{segments[0]}' could not be found in the namespace 'Microsoft.Authorization'.",
        )
    names = segments[1:]
    parts = [type_name] + [
        _ALIASES.get(n.lower(), n.lower()) if _ALIASES.get(n.lower(), n.lower()) in _KEYWORDS else "*" for n in names
    ]
    return Target("/".join(parts), path[:idx] or "/", names, segments[0], API_VERSIONS[type_name])


def _target(scope: Scope) -> Target | ArmError | None:
    """The request's classification, computed once per request (every route's `matches` asks for it)."""
    if "jitpim.arm_target" not in scope:
        scope["jitpim.arm_target"] = classify(scope.get("path", ""))
    target: Target | ArmError | None = scope["jitpim.arm_target"]
    return target


def _not_supported(method: str) -> ArmError:
    return ArmError(405, "NoRegisteredProviderFound", f"The HTTP method '{method}' is not supported.")


async def _run(request: Request, target: Target, handler: Handler) -> Response:
    w = world(request)
    caller = authenticate(request, w, "arm")
    query = {k.lower(): v for k, v in request.query_params.items()}
    api_version = check_api_version(query, target.type_segment, target.versions)
    method = request.method.upper()
    body = (
        await json_body(request, ArmError, code="InvalidRequestContent") if method in ("PUT", "PATCH", "POST") else {}
    )
    with w.lock:
        scope = parse_scope(w, target.scope)
        require_subscription(w, scope)
        ctx = Ctx(
            world=w,
            caller=caller,
            method=method,
            scope=scope,
            names=target.names,
            query=query,
            body=body,
            api_version=api_version,
            url=str(request.url),
        )
        response = handler(ctx)
    rid = str(request.scope.setdefault("jitpim.request_id", str(uuid.uuid4())))
    response.headers["x-ms-request-id"] = rid
    response.headers["x-ms-correlation-request-id"] = request.headers.get("x-ms-correlation-request-id") or rid
    budget = "x-ms-ratelimit-remaining-subscription-" + ("reads" if method == "GET" else "writes")
    response.headers[budget] = "11999" if method == "GET" else "1199"
    return response


def _endpoint(handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        target = _target(request.scope)
        assert isinstance(target, Target)
        method = "GET" if request.method.upper() == "HEAD" else request.method.upper()
        return await _run(request, target, handlers[method])

    return endpoint


class ArmOperation(Route):
    """One ARM operation: matched by classification (case-insensitive, any scope), not by the path template,
    which documents it."""

    def __init__(self, key: str, path: str, handlers: dict[str, Handler]) -> None:
        super().__init__(path, _endpoint(handlers), methods=list(handlers))
        self.key = key

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        target = _target(scope)
        if not isinstance(target, Target) or target.key != self.key:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": dict(scope.get("path_params", {}))}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child
        return Match.FULL, child


class ArmFallback(BaseRoute):
    """Everything else under `/subscriptions` and `/providers`: ARM's 401, 404 or 405 in ARM's envelope."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and _target(scope) is not None:
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        authenticate(request, world(request), "arm")
        target = _target(scope)
        if isinstance(target, ArmError):
            raise target
        raise _not_supported(scope["method"])


ROUTES: list[BaseRoute] = [ArmOperation(key, path, handlers) for key, path, handlers in _OPERATIONS]
ROUTES.append(ArmFallback())
