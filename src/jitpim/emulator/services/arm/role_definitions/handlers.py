"""HTTP handlers of roleDefinitions and the `permissions` read (2022-04-01)."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend

__all__ = ["get_role_definition", "list_permissions", "list_role_definitions", "put_role_definition"]


def list_role_definitions(ctx: Ctx) -> Response:
    return list_response([d.to_arm(ctx.scope.path) for d in backend.definitions(ctx)])


def get_role_definition(ctx: Ctx) -> Response:
    return json_response(backend.definition(ctx).to_arm(ctx.scope.path))


def list_permissions(ctx: Ctx) -> Response:
    return list_response(backend.permissions(ctx))


def put_role_definition(ctx: Ctx) -> Response:
    definition, created = backend.put(ctx)
    return json_response(definition.to_arm(ctx.scope.path), 201 if created else 200)
