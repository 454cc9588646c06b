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

from ....core.auth import authenticate
from ....core.errors import ArmError
from ....core.http import json_body, world
from .context import (
    API_VERSIONS,
    DEPLOYMENT_VERSIONS,
    KEYVAULT_VERSIONS,
    RESOURCE_MANAGER_VERSIONS,
    STORAGE_VERSIONS,
    Ctx,
    check_api_version,
    parse_scope,
    require_subscription,
)

__all__ = [
    "AUTHORIZATION",
    "SUBSCRIPTION",
    "ArmFallback",
    "ArmOperation",
    "Operation",
    "Target",
    "arm_routes",
    "classify",
]

Handler = Callable[[Ctx], Response]
_AUTHZ = "/providers/microsoft.authorization/"
_KEYWORDS = {"cancel", "validate", "stages"}
# Spellings the service also answers to: the legacy approval `steps` segment, and the singular segment the
# policy assignment ids carry.
_ALIASES = {"steps": "stages", "rolemanagementpolicyassignment": "rolemanagementpolicyassignments"}
# The documented path prefixes of the operations: Microsoft.Authorization at any scope, and a subscription.
AUTHORIZATION = "/{scope}/providers/Microsoft.Authorization"
SUBSCRIPTION = "/subscriptions/{subscriptionId}"
# (classification key, documented path, handlers by method). `*` in a key stands for an item name.
Operation = tuple[str, str, dict[str, Handler]]


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
    if (
        len(parts) == 10
        and parts[2] == "resourcegroups"
        and parts[4:7] == ["providers", "microsoft.keyvault", "vaults"]
    ) and parts[8] == "secrets":
        return Target("resource:vaultsecret", path, [], None, KEYVAULT_VERSIONS)
    if (
        len(parts) == 8
        and parts[2] == "resourcegroups"
        and parts[4:7] == ["providers", "microsoft.storage", "storageaccounts"]
    ):
        return Target("resource:storageaccount", path, [], None, STORAGE_VERSIONS)
    if len(parts) == 4 and parts[2] == "operationresults":
        return Target("resource:operationresult", "/" + "/".join(raw[:2]), raw[3:], None, DEPLOYMENT_VERSIONS)
    deployments = _classify_deployment(raw, parts)
    if deployments is not None:
        return deployments
    return ArmError(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")


_DEPLOYMENT_ACTIONS = {"validate": "validate", "whatif": "whatif", "operations": "operations"}


def _classify_deployment(raw: list[str], parts: list[str]) -> Target | None:
    """`{scope}/providers/Microsoft.Resources/deployments[/{name}[/validate|whatIf|operations[/{id}]|
    operationStatuses/{id}]]` at a subscription or a resource group."""
    base = 4 if len(parts) >= 4 and parts[2] == "resourcegroups" else 2
    if parts[base : base + 3] == ["providers", "microsoft.resources", "deployments"]:
        rest = raw[base + 3 :]
    elif parts[base : base + 1] == ["deployments"]:  # the short form some operations' paths use
        rest = raw[base + 1 :]
    else:
        return None
    scope = "/" + "/".join(raw[:base])
    lowered = [p.lower() for p in rest]
    key = None
    if not rest:
        key = "deployments"
    elif len(rest) == 1:
        key = "deployment"
    elif len(rest) == 2 and lowered[1] in _DEPLOYMENT_ACTIONS:
        key = "deployment/" + _DEPLOYMENT_ACTIONS[lowered[1]]
    elif len(rest) == 3 and lowered[1] == "operations":
        key = "deployment/operation"
    elif len(rest) == 3 and lowered[1] == "operationstatuses":
        key = "deployment/operationstatus"
    if key is None:
        return None
    return Target(f"resource:{key}", scope, rest, None, DEPLOYMENT_VERSIONS)


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


def arm_routes(operations: list[Operation]) -> list[BaseRoute]:
    """The routing table: one route per operation, then the catch-all for the rest of ARM's paths."""
    routes: list[BaseRoute] = [ArmOperation(key, path, handlers) for key, path, handlers in operations]
    routes.append(ArmFallback())
    return routes
