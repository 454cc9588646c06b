"""`/policies/roleManagementPolicies` and `/policies/roleManagementPolicyAssignments`: list (a `$filter` on
`scopeId` and `scopeType` is required), get, `$expand=rules` / `policy($expand=rules)`, the `rules` and
`effectiveRules` collections, and PATCH of a rule (204), which changes what later requests are checked
against. Directory roles use `scopeType` `DirectoryRole` (`Directory` is accepted) with `scopeId` `/`;
groups `Group` with the group id.

Decision on an open question (graph-pim.md section 12.5): apps holding RoleManagementPolicy.ReadWrite.Directory
may PATCH directory rules (an app role by that name exists and tools use it).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.tokens import Caller
from ..common.odata import collection, entity, parse_filter
from ..pim.authz import pim_error, require_scope
from ..pim.store import GraphState
from .backend import Policy, update_rule, update_rules

__all__ = [
    "ASSIGNMENTS",
    "POLICIES",
    "get_assignment",
    "get_policy",
    "list_assignments",
    "list_policies",
    "list_rules",
    "patch_policy",
    "rule",
]

POLICIES = "/policies/roleManagementPolicies"
ASSIGNMENTS = "/policies/roleManagementPolicyAssignments"
_READ = {
    "DirectoryRole": (
        "RoleManagementPolicy.Read.Directory",
        "RoleManagementPolicy.ReadWrite.Directory",
        "RoleManagement.Read.Directory",
        "RoleManagement.Read.All",
        "RoleManagement.ReadWrite.Directory",
    ),
    "Group": ("RoleManagementPolicy.Read.AzureADGroup", "RoleManagementPolicy.ReadWrite.AzureADGroup"),
}


def _state(request: Request) -> GraphState:
    return world(request).service("graph", GraphState)


def _scope_filter(request: Request) -> tuple[str, str, str]:
    """(scopeType, scopeId, the $filter with `Directory` read as `DirectoryRole`); a missing or unknown scope is
    the PIM backend's `MissingProvider`."""
    flt = request.query_params.get("$filter") or ""
    scope_id = re.search(r"\bscopeId\s+eq\s+'([^']*)'", flt, re.IGNORECASE)
    scope_type = re.search(r"\bscopeType\s+eq\s+'([^']*)'", flt, re.IGNORECASE)
    if not scope_id or not scope_type:
        raise pim_error(400, "MissingProvider", "The provider is missing.")
    kind = {"directoryrole": "DirectoryRole", "directory": "DirectoryRole", "group": "Group"}.get(
        scope_type.group(1).lower()
    )
    if kind is None:
        raise pim_error(400, "MissingProvider", "The provider is missing.")
    normalised = re.sub(r"(\bscopeType\s+eq\s+)'[^']*'", rf"\1'{kind}'", flt, flags=re.IGNORECASE)
    return kind, scope_id.group(1), normalised


def _expansion(request: Request) -> tuple[bool, bool]:
    """(expand the policy, expand its rules) from `$expand=rules`, `policy`, `policy($expand=rules)`."""
    raw = (request.query_params.get("$expand") or "").replace(" ", "")
    policy = raw.startswith("policy") or ",policy" in raw
    rules = "rules" in raw.lower() or "effectiverules" in raw.lower()
    return policy, rules


def _authorize_read(caller: Caller, scope_type: str) -> None:
    require_scope(caller, _READ[scope_type])


def _policies_in_scope(state: GraphState, scope_type: str, scope_id: str) -> list[Policy]:
    if scope_type == "Group":
        found = [state.policies.for_group(scope_id, a) for a in ("member", "owner")]
        return [p for p in found if p is not None]
    return [p for p in state.policies.all() if p.scope_type == "DirectoryRole"] if scope_id == "/" else []


def _find(state: GraphState, policy_id: str) -> Policy:
    policy = state.policies.get(policy_id)
    if policy is None:
        raise GraphError(404, "ResourceNotFound", f"The role management policy '{policy_id}' does not exist.")
    return policy


def _policy_json(policy: Policy, rules: bool) -> dict[str, Any]:
    data = policy.to_graph(with_rules=rules)
    if rules:
        data["effectiveRules"] = policy.rules_json()
    return data


async def list_policies(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    scope_type, scope_id, flt = _scope_filter(request)
    _authorize_read(caller, scope_type)
    _, rules = _expansion(request)
    with w.lock:
        rows = [_policy_json(p, rules) for p in _policies_in_scope(_state(request), scope_type, scope_id)]
    predicate = parse_filter(flt)
    rows = [r for r in rows if predicate(r)]
    return json_response(collection(request, rows, "policies/roleManagementPolicies", filtered=True))


async def list_assignments(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    scope_type, scope_id, flt = _scope_filter(request)
    _authorize_read(caller, scope_type)
    expand_policy, rules = _expansion(request)
    with w.lock:
        rows = []
        for policy in _policies_in_scope(_state(request), scope_type, scope_id):
            row = policy.assignment_json()
            if expand_policy:
                row["policy"] = _policy_json(policy, rules)
            rows.append(row)
    predicate = parse_filter(flt)
    rows = [r for r in rows if predicate(r)]
    return json_response(collection(request, rows, "policies/roleManagementPolicyAssignments", filtered=True))


async def get_assignment(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    key = request.path_params["key"]
    expand_policy, rules = _expansion(request)
    with w.lock:
        state = _state(request)
        policy = next((p for p in state.policies.all() if p.assignment_id == key), None)
        if policy is None:
            raise GraphError(404, "ResourceNotFound", f"The role management policy assignment '{key}' does not exist.")
        _authorize_read(caller, policy.scope_type)
        row = policy.assignment_json()
        if expand_policy:
            row["policy"] = _policy_json(policy, rules)
    return json_response(entity(request, row, "policies/roleManagementPolicyAssignments"))


async def get_policy(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    _, rules = _expansion(request)
    with w.lock:
        policy = _find(_state(request), request.path_params["key"])
        _authorize_read(caller, policy.scope_type)
        row = _policy_json(policy, rules)
    return json_response(entity(request, row, "policies/roleManagementPolicies"))


async def list_rules(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    noun = request.url.path.rsplit("/", 1)[1]
    with w.lock:
        policy = _find(_state(request), request.path_params["key"])
        _authorize_read(caller, policy.scope_type)
        rows = policy.rules_json()
    return json_response(collection(request, rows, f"policies/roleManagementPolicies('{policy.id}')/{noun}"))


async def rule(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    body = await json_body(request, GraphError) if request.method == "PATCH" else {}
    noun = request.url.path.rsplit("/", 2)[1]
    with w.lock:
        state = _state(request)
        now = w.clock.now()
        policy = _find(state, request.path_params["key"])
        rule_id = request.path_params["rule"]
        current = policy.rules.get(rule_id)
        if current is None:
            raise GraphError(404, "ResourceNotFound", f"The rule '{rule_id}' does not exist in policy '{policy.id}'.")
        if request.method == "GET":
            _authorize_read(caller, policy.scope_type)
            context = f"policies/roleManagementPolicies('{policy.id}')/{noun}"
            return json_response(entity(request, copy.deepcopy(current), context))
        update_rule(state, caller, policy, rule_id, body, now)
    return no_content()


async def patch_policy(request: Request) -> Response:
    w = world(request)
    caller = authenticate(request, w, "graph")
    body = await json_body(request, GraphError)
    with w.lock:
        state = _state(request)
        now = w.clock.now()
        policy = _find(state, request.path_params["key"])
        update_rules(state, caller, policy, body.get("rules") or [], now)
        row = _policy_json(policy, True)
    return json_response(entity(request, row, "policies/roleManagementPolicies"))
