"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("roleassignments", f"{_P}/roleAssignments", {"GET": handlers.list_role_assignments}),
    (
        "roleassignments/*",
        f"{_P}/roleAssignments/{{roleAssignmentName}}",
        {
            "GET": handlers.get_role_assignment,
            "PUT": handlers.put_role_assignment,
            "DELETE": handlers.delete_role_assignment,
        },
    ),
]
