"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import AUTHORIZATION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_P = AUTHORIZATION

OPERATIONS: list[Operation] = [
    ("rolemanagementpolicies", f"{_P}/roleManagementPolicies", {"GET": handlers.list_policies}),
    (
        "rolemanagementpolicies/*",
        f"{_P}/roleManagementPolicies/{{policyName}}",
        {"GET": handlers.get_policy, "PATCH": handlers.patch_policy},
    ),
    (
        "rolemanagementpolicyassignments",
        f"{_P}/roleManagementPolicyAssignments",
        {"GET": handlers.list_policy_assignments},
    ),
    (
        "rolemanagementpolicyassignments/*",
        f"{_P}/roleManagementPolicyAssignments/{{policyName}}_{{roleDefinitionId}}",
        {"GET": handlers.get_policy_assignment},
    ),
]
