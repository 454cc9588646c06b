"""Small request/response helpers shared by the services."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError
from .json_text import JsonDepthError, JsonTextError, parse_json

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .world import World

__all__ = ["json_body", "json_response", "no_content", "runtime", "world"]


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def world(request: Request) -> World:
    """The tenant's world the request is for (see `Runtime.world_for`)."""
    return runtime(request).world_for(request.scope)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def no_content(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, headers=headers)


async def json_body(request: Request, error: type[ApiError], *, code: str = "BadRequest") -> dict[str, Any]:
    """The request's JSON object; malformed JSON or a non-object answers 400 in the service's own envelope."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = parse_json(raw)
    except JsonDepthError as exc:
        raise error(400, code, str(exc)) from None
    except JsonTextError:
        raise error(
            400,
            code,
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
            "valid JSON format.",
        ) from None
    if not isinstance(data, dict):
        raise error(400, code, "The request body must be a JSON object.")
    return data
