"""Directory role definitions and raw role assignments under `/roleManagement/directory`.

`roleDefinitions` (+ `/{id}`, `$filter=displayName eq '...'`; `or` is refused as Graph refuses it) come
from the built-in definitions with their real template ids. `roleAssignments` lists the assignments in
effect now, standing and PIM-materialised (ids from `DirectoryRoleAssignment.id`), with `$filter` on
principalId / roleDefinitionId / directoryScopeId and `$expand=principal,roleDefinition`. POST creates a
permanent assignment outside PIM (Privileged Role Administrator / Global Administrator, or app-only
`RoleManagement.ReadWrite.Directory`), DELETE removes one; both write the directory audit rows.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.directory import DirectoryRoleAssignment
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.ids import is_guid
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import require
from ..common.directory import listing, single
from ..common.errors import bad_request, not_found
from ..common.odata import entity
from ..common.shapes import directory_object_json, role_assignment_json
from .backend import assign, effective, unassign

__all__ = [
    "create_assignment",
    "delete_assignment",
    "get_assignment",
    "get_definition",
    "list_assignments",
    "list_definitions",
]

_READ = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_MANAGE_ACTION = "microsoft.directory/roleAssignments/allProperties/allTasks"
_DEFINITIONS = "roleManagement/directory/roleDefinitions"
_ASSIGNMENTS = "roleManagement/directory/roleAssignments"


def _read(request: Request) -> Caller:
    return require(
        request,
        app=_READ,
        delegated=(*_READ, "Directory.AccessAsUser.All"),
        directory_actions=(
            "microsoft.directory/roleAssignments/standard/read",
            "microsoft.directory/roleDefinitions/standard/read",
        ),
    )


def _manage(request: Request) -> Caller:
    return require(
        request,
        app=("RoleManagement.ReadWrite.Directory",),
        delegated=("RoleManagement.ReadWrite.Directory", "Directory.AccessAsUser.All"),
        directory_actions=(_MANAGE_ACTION,),
        user_needs_role=True,
    )


async def list_definitions(request: Request) -> Response:
    w = world(request)
    _read(request)
    rows = [d.to_graph() for d in w.directory.role_definitions.values()]
    return json_response(
        listing(
            request,
            rows,
            _DEFINITIONS,
            resource="UnifiedRoleDefinition",
            type_name="Microsoft.DirectoryServices.UnifiedRoleDefinition",
            fields={"displayName", "id", "templateId", "isBuiltIn", "isEnabled"},
            order_fields={"displayName"},
            allow_or=False,
        )
    )


async def get_definition(request: Request) -> Response:
    w = world(request)
    _read(request)
    key = str(request.path_params["definition_key"])
    definition = w.directory.role_definitions.get(key.lower())
    if definition is None:
        raise not_found(key)
    return json_response(
        single(
            request, definition.to_graph(), _DEFINITIONS, type_name="Microsoft.DirectoryServices.UnifiedRoleDefinition"
        )
    )


def _expand_names(raw: str) -> set[str]:
    """Navigation names in `$expand`, ignoring nested options (`roleDefinition($select=displayName)`)."""
    names: set[str] = set()
    depth = 0
    current = ""
    for ch in raw + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            if current.strip():
                names.add(current.strip())
            current = ""
        elif depth == 0:
            current += ch
    return names


def _expanded(w: World, request: Request, a: DirectoryRoleAssignment) -> dict[str, Any]:
    item = role_assignment_json(a)
    expand = _expand_names(request.query_params.get("$expand") or "")
    unknown = expand - {"principal", "roleDefinition"}
    if unknown:
        raise bad_request(
            f"Could not find a property named '{sorted(unknown)[0]}' on type 'microsoft.graph.unifiedRoleAssignment'."
        )
    if "principal" in expand:
        item["principal"] = directory_object_json(w, a.principal_id)
    if "roleDefinition" in expand:
        definition = w.directory.role_definitions.get(a.role_definition_id)
        item["roleDefinition"] = definition.to_graph() if definition else None
    return item


async def list_assignments(request: Request) -> Response:
    w = world(request)
    _read(request)
    with w.lock:
        rows = [_expanded(w, request, a) for a in effective(w)]
    return json_response(
        listing(
            request,
            rows,
            _ASSIGNMENTS,
            resource="UnifiedRoleAssignment",
            type_name="Microsoft.DirectoryServices.UnifiedRoleAssignment",
            fields={"principalId", "roleDefinitionId", "directoryScopeId", "id", "appScopeId"},
            allow_or=False,
        )
    )


async def get_assignment(request: Request) -> Response:
    w = world(request)
    _read(request)
    key = str(request.path_params["assignment_key"])
    with w.lock:
        found = next((a for a in effective(w) if a.id == key), None)
        if found is None:
            raise not_found(key)
        item = _expanded(w, request, found)
    return json_response(
        single(request, item, _ASSIGNMENTS, type_name="Microsoft.DirectoryServices.UnifiedRoleAssignment")
    )


async def create_assignment(request: Request) -> Response:
    w = world(request)
    caller = _manage(request)
    body = await json_body(request, GraphError, code="BadRequest")
    principal_id = body.get("principalId")
    role_id = body.get("roleDefinitionId")
    for name, value in (("principalId", principal_id), ("roleDefinitionId", role_id)):
        if not isinstance(value, str) or not is_guid(value):
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'UnifiedRoleAssignment'.")
    assert isinstance(principal_id, str) and isinstance(role_id, str)
    with w.lock:
        assignment = assign(w, caller, principal_id, role_id, body.get("directoryScopeId"))
        item = role_assignment_json(assignment)
    return json_response(entity(request, item, _ASSIGNMENTS), status=201)


async def delete_assignment(request: Request) -> Response:
    w = world(request)
    caller = _manage(request)
    key = str(request.path_params["assignment_key"])
    with w.lock:
        unassign(w, caller, key)
    return no_content()
