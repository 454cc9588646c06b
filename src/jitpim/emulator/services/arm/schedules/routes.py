"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("roleassignmentschedules", f"{_P}/roleAssignmentSchedules", {"GET": handlers.list_assignment_schedules}),
    ("roleassignmentschedules/*", f"{_P}/roleAssignmentSchedules/{{name}}", {"GET": handlers.get_assignment_schedule}),
    (
        "roleassignmentscheduleinstances",
        f"{_P}/roleAssignmentScheduleInstances",
        {"GET": handlers.list_assignment_instances},
    ),
    (
        "roleassignmentscheduleinstances/*",
        f"{_P}/roleAssignmentScheduleInstances/{{name}}",
        {"GET": handlers.get_assignment_instance},
    ),
    ("roleeligibilityschedules", f"{_P}/roleEligibilitySchedules", {"GET": handlers.list_eligibility_schedules}),
    (
        "roleeligibilityschedules/*",
        f"{_P}/roleEligibilitySchedules/{{name}}",
        {"GET": handlers.get_eligibility_schedule},
    ),
    (
        "roleeligibilityscheduleinstances",
        f"{_P}/roleEligibilityScheduleInstances",
        {"GET": handlers.list_eligibility_instances},
    ),
    (
        "roleeligibilityscheduleinstances/*",
        f"{_P}/roleEligibilityScheduleInstances/{{name}}",
        {"GET": handlers.get_eligibility_instance},
    ),
]
