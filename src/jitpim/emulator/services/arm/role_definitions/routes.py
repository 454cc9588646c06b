"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("roledefinitions", f"{_P}/roleDefinitions", {"GET": handlers.list_role_definitions}),
    (
        "roledefinitions/*",
        f"{_P}/roleDefinitions/{{roleDefinitionId}}",
        {"GET": handlers.get_role_definition, "PUT": handlers.put_role_definition},
    ),
    ("permissions", f"{_P}/permissions", {"GET": handlers.list_permissions}),
]
