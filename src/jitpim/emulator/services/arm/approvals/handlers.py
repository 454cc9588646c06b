"""HTTP handlers of roleAssignmentApprovals (2021-01-01-preview): the backend's approvals in ARM's wire shape."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend

__all__ = ["get_approval", "get_stage", "list_approvals", "list_stages", "review_stage"]


def list_approvals(ctx: Ctx) -> Response:
    return list_response([approval.to_arm(ctx.world, mine) for approval, mine in backend.matching(ctx)])


def get_approval(ctx: Ctx) -> Response:
    approval = backend.find(ctx)
    return json_response(approval.to_arm(ctx.world, backend.is_approver(ctx, approval)))


def list_stages(ctx: Ctx) -> Response:
    approval = backend.find(ctx)
    return list_response([approval.stage_to_arm(ctx.world, backend.is_approver(ctx, approval))])


def get_stage(ctx: Ctx) -> Response:
    approval = backend.stage(ctx)
    return json_response(approval.stage_to_arm(ctx.world, backend.is_approver(ctx, approval)))


def review_stage(ctx: Ctx) -> Response:
    return json_response(backend.review(ctx).stage_to_arm(ctx.world, True))
