"""HTTP handlers of the PIM schedules and their instances (2020-10-01): the backend's finds in ARM's wire shape."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend

__all__ = [
    "get_assignment_instance",
    "get_assignment_schedule",
    "get_eligibility_instance",
    "get_eligibility_schedule",
    "list_assignment_instances",
    "list_assignment_schedules",
    "list_eligibility_instances",
    "list_eligibility_schedules",
]


def list_assignment_schedules(ctx: Ctx) -> Response:
    return list_response([s.to_arm(ctx.world, ctx.now) for s in backend.assignment_schedules(ctx)])


def list_assignment_instances(ctx: Ctx) -> Response:
    return list_response(
        [s.instance_to_arm(ctx.world, ctx.now, ra.id if ra else None) for s, ra in backend.assignment_instances(ctx)]
    )


def get_assignment_schedule(ctx: Ctx) -> Response:
    return json_response(backend.assignment_schedule(ctx).to_arm(ctx.world, ctx.now))


def get_assignment_instance(ctx: Ctx) -> Response:
    schedule, ra = backend.assignment_instance(ctx)
    return json_response(schedule.instance_to_arm(ctx.world, ctx.now, ra.id if ra else None))


def list_eligibility_schedules(ctx: Ctx) -> Response:
    return list_response([e.to_arm(ctx.world, ctx.now) for e in backend.eligibility_schedules(ctx)])


def list_eligibility_instances(ctx: Ctx) -> Response:
    return list_response([e.instance_to_arm(ctx.world, ctx.now) for e in backend.eligibility_instances(ctx)])


def get_eligibility_schedule(ctx: Ctx) -> Response:
    return json_response(backend.eligibility_schedule(ctx).to_arm(ctx.world, ctx.now))


def get_eligibility_instance(ctx: Ctx) -> Response:
    return json_response(backend.eligibility_instance(ctx).instance_to_arm(ctx.world, ctx.now))
