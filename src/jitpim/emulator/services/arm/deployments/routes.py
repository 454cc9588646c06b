"""The ARM operations of deployments: (classification key, documented path, handlers by method), at a
subscription (`/subscriptions/{id}`) and a resource group (`.../resourcegroups/{name}`) alike."""

from __future__ import annotations

from ..common.routing import SUBSCRIPTION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_D = "/{scope}/providers/Microsoft.Resources/deployments"

OPERATIONS: list[Operation] = [
    ("resource:deployments", _D, {"GET": handlers.list_deployments}),
    (
        "resource:deployment",
        f"{_D}/{{deploymentName}}",
        {"GET": handlers.get_deployment, "PUT": handlers.put_deployment, "DELETE": handlers.delete_deployment},
    ),
    ("resource:deployment/validate", f"{_D}/{{deploymentName}}/validate", {"POST": handlers.validate_deployment}),
    ("resource:deployment/whatif", f"{_D}/{{deploymentName}}/whatIf", {"POST": handlers.what_if_deployment}),
    ("resource:deployment/operations", f"{_D}/{{deploymentName}}/operations", {"GET": handlers.list_operations}),
    (
        "resource:deployment/operation",
        f"{_D}/{{deploymentName}}/operations/{{operationId}}",
        {"GET": handlers.get_operation},
    ),
    (
        "resource:deployment/operationstatus",
        f"{_D}/{{deploymentName}}/operationStatuses/{{operationId}}",
        {"GET": handlers.get_operation_status},
    ),
    (
        "resource:operationresult",
        f"{SUBSCRIPTION}/operationresults/{{operationId}}",
        {"GET": handlers.get_what_if_result},
    ),
]
