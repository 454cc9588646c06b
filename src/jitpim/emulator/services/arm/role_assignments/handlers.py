"""HTTP handlers of roleAssignments (2022-04-01): the backend's assignments in ARM's wire shape, lists paged."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import paged_list_response
from . import backend
from .shapes import role_assignment_to_arm

__all__ = ["delete_role_assignment", "get_role_assignment", "list_role_assignments", "put_role_assignment"]


def get_role_assignment(ctx: Ctx) -> Response:
    return json_response(role_assignment_to_arm(ctx.world, backend.get(ctx)))


def list_role_assignments(ctx: Ctx) -> Response:
    return paged_list_response(ctx, [role_assignment_to_arm(ctx.world, a) for a in backend.matching(ctx)])


def put_role_assignment(ctx: Ctx) -> Response:
    assignment, created = backend.put(ctx)
    return json_response(role_assignment_to_arm(ctx.world, assignment), 201 if created else 200)


def delete_role_assignment(ctx: Ctx) -> Response:
    assignment = backend.delete(ctx)
    if assignment is None:
        return Response(status_code=204)
    return json_response(role_assignment_to_arm(ctx.world, assignment), 200)
