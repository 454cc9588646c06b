"""Graph routes exist under both `/v1.0` and `/beta`; `versions=` narrows a route to one of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["graph_route"]

Endpoint = Callable[[Request], Awaitable[Response]]


def graph_route(
    path: str, endpoint: Endpoint, methods: Sequence[str], versions: Sequence[str] = ("v1.0", "beta")
) -> list[Route]:
    return [Route(f"/{version}{path}", endpoint, methods=list(methods)) for version in versions]
