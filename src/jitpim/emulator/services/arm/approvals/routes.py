"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("roleassignmentapprovals", f"{_P}/roleAssignmentApprovals", {"GET": handlers.list_approvals}),
    ("roleassignmentapprovals/*", f"{_P}/roleAssignmentApprovals/{{approvalId}}", {"GET": handlers.get_approval}),
    (
        "roleassignmentapprovals/*/stages",
        f"{_P}/roleAssignmentApprovals/{{approvalId}}/stages",
        {"GET": handlers.list_stages},
    ),
    (
        "roleassignmentapprovals/*/stages/*",
        f"{_P}/roleAssignmentApprovals/{{approvalId}}/stages/{{stageId}}",
        {"GET": handlers.get_stage, "PUT": handlers.review_stage, "PATCH": handlers.review_stage},
    ),
]
