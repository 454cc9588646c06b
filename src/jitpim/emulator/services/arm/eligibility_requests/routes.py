"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    (
        "roleeligibilityschedulerequests",
        f"{_P}/roleEligibilityScheduleRequests",
        {"GET": handlers.list_eligibility_requests},
    ),
    (
        "roleeligibilityschedulerequests/*",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}",
        {"GET": handlers.get_eligibility_request, "PUT": handlers.put_eligibility_request},
    ),
    (
        "roleeligibilityschedulerequests/*/cancel",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}/cancel",
        {"POST": handlers.cancel_eligibility_request},
    ),
    (
        "roleeligibilityschedulerequests/*/validate",
        f"{_P}/roleEligibilityScheduleRequests/{{name}}/validate",
        {"POST": handlers.validate_eligibility_request},
    ),
]
