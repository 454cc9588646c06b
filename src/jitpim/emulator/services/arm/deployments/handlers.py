"""HTTP handlers of deployments: ARM's status codes and the asynchronous-operation headers.

PUT answers 201 (200 when it replaces a finished deployment of the same name) with `Azure-AsyncOperation`
naming the operation status resource, which azure-mgmt-resource's poller and the az CLI follow; what-if answers
202 with `Location` naming its operation result (200 with the changes).
"""

from __future__ import annotations

from starlette.responses import Response

from ....core.errors import ArmError
from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend
from .engine import deployment_id, store_of
from .shapes import deployment_json, operation_json, status_json, validation_json

__all__ = [
    "delete_deployment",
    "get_deployment",
    "get_operation",
    "get_operation_status",
    "get_what_if_result",
    "list_deployments",
    "list_operations",
    "put_deployment",
    "validate_deployment",
    "what_if_deployment",
]


def put_deployment(ctx: Ctx) -> Response:
    existed = deployment_id(ctx.scope, ctx.names[0]).lower() in store_of(ctx.world).deployments
    deployment = backend.put(ctx)
    status_url = (
        f"{ctx.world.base_url}{deployment.id}/operationStatuses/{deployment.operation_id}?api-version={ctx.api_version}"
    )
    return json_response(deployment_json(deployment), 200 if existed else 201, {"Azure-AsyncOperation": status_url})


def delete_deployment(ctx: Ctx) -> Response:
    backend.delete(ctx)
    return Response(status_code=204)


def get_deployment(ctx: Ctx) -> Response:
    return json_response(deployment_json(backend.get(ctx)))


def list_deployments(ctx: Ctx) -> Response:
    return list_response([deployment_json(d) for d in backend.list_at(ctx)])


def validate_deployment(ctx: Ctx) -> Response:
    plan, location, _ = backend.validate(ctx)
    return json_response(validation_json(deployment_id(ctx.scope, ctx.names[0]), ctx.names[0], plan, location, ctx.now))


def what_if_deployment(ctx: Ctx) -> Response:
    token = backend.what_if(ctx)
    location = (
        f"{ctx.world.base_url}{ctx.world.subscription_scope}/operationresults/{token}?api-version={ctx.api_version}"
    )
    return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})


def get_what_if_result(ctx: Ctx) -> Response:
    return json_response(backend.what_if_result(ctx))


def list_operations(ctx: Ctx) -> Response:
    deployment = backend.get(ctx)
    return list_response([operation_json(deployment, op) for op in deployment.operations])


def get_operation(ctx: Ctx) -> Response:
    deployment = backend.get(ctx)
    wanted = ctx.names[2].lower()
    op = next((o for o in deployment.operations if o.operation_id.lower() == wanted), None)
    if op is None:
        raise ArmError(404, "DeploymentOperationNotFound", f"Deployment operation '{ctx.names[2]}' could not be found.")
    return json_response(operation_json(deployment, op))


def get_operation_status(ctx: Ctx) -> Response:
    deployment = backend.get(ctx)
    if ctx.names[2].lower() != deployment.operation_id.lower():
        raise ArmError(404, "OperationNotFound", f"The operation '{ctx.names[2]}' could not be found.")
    return json_response(status_json(deployment))
