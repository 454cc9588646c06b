"""HTTP handlers of roleManagementPolicies and roleManagementPolicyAssignments: the backend's policies in ARM's
wire shape."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend

__all__ = ["get_policy", "get_policy_assignment", "list_policies", "list_policy_assignments", "patch_policy"]


def list_policies(ctx: Ctx) -> Response:
    return list_response([p.to_arm(ctx.world) for p in backend.policies(ctx)])


def get_policy(ctx: Ctx) -> Response:
    return json_response(backend.policy(ctx).to_arm(ctx.world))


def patch_policy(ctx: Ctx) -> Response:
    return json_response(backend.patch(ctx).to_arm(ctx.world))


def list_policy_assignments(ctx: Ctx) -> Response:
    return list_response([p.assignment_to_arm(ctx.world) for p in backend.assignments(ctx)])


def get_policy_assignment(ctx: Ctx) -> Response:
    return json_response(backend.assignment(ctx).assignment_to_arm(ctx.world))
