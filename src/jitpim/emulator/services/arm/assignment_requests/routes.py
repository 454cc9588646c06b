"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("roleassignmentschedulerequests", f"{_P}/roleAssignmentScheduleRequests", {"GET": handlers.list_requests}),
    (
        "roleassignmentschedulerequests/*",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}",
        {"GET": handlers.get_request, "PUT": handlers.put_request},
    ),
    (
        "roleassignmentschedulerequests/*/cancel",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}/cancel",
        {"POST": handlers.cancel_request},
    ),
    (
        "roleassignmentschedulerequests/*/validate",
        f"{_P}/roleAssignmentScheduleRequests/{{name}}/validate",
        {"POST": handlers.validate_request},
    ),
]
