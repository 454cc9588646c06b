"""HTTP handlers of roleAssignmentScheduleRequests (2020-10-01): the backend's request in ARM's wire shape."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend

__all__ = ["cancel_request", "get_request", "list_requests", "put_request", "validate_request"]


def put_request(ctx: Ctx) -> Response:
    return json_response(backend.submit(ctx).to_arm(ctx.world), 201)


def validate_request(ctx: Ctx) -> Response:
    return json_response(backend.validate(ctx).to_arm(ctx.world), 200)


def get_request(ctx: Ctx) -> Response:
    return json_response(backend.get(ctx).to_arm(ctx.world))


def list_requests(ctx: Ctx) -> Response:
    return list_response([request.to_arm(ctx.world) for request in backend.matching(ctx)])


def cancel_request(ctx: Ctx) -> Response:
    backend.cancel(ctx)
    return Response(status_code=200)
