"""The emulator's ASGI application: one app on the main port, one per-vault app on the vault ports."""

from __future__ import annotations

import logging
import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .core.errors import AadError, ApiError, ArmError, GraphError, KeyVaultError
from .core.faults import FaultMiddleware, style_for_path
from .runtime import Runtime
from .services import main_routes, vault_routes

__all__ = ["create_app"]

log = logging.getLogger("jitpim.emulator")


def _request_ids(request: Request) -> tuple[str, str | None]:
    rid = request.scope.setdefault("jitpim.request_id", str(uuid.uuid4()))
    return str(rid), request.headers.get("client-request-id") or request.headers.get("x-ms-client-request-id")


def _render(err: ApiError, request: Request) -> Response:
    rid, crid = _request_ids(request)
    headers = {"request-id": rid, "x-ms-request-id": rid, **err.headers}
    if crid:
        headers["client-request-id"] = crid
    return Response(
        err.render(rid, crid), status_code=err.status, headers=headers, media_type="application/json; charset=utf-8"
    )


def _style(request: Request, vault: bool) -> type[ApiError]:
    return style_for_path(request.url.path, vault)


def _not_found(request: Request, vault: bool) -> ApiError:
    style = _style(request, vault)
    path = request.url.path
    if style is GraphError:
        segment = path.removeprefix("/graph/").split("/")
        last = segment[-1] if segment else ""
        if len(segment) >= 1 and segment[0] not in ("v1.0", "beta"):
            return GraphError(400, "BadRequest", f"Invalid version: {segment[0]}")
        return GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")
    if style is KeyVaultError:
        return KeyVaultError(404, "NotFound", f"The requested resource '{path}' was not found.")
    if style is AadError:
        return AadError(404, "invalid_request", 900144, "The request is not supported by this endpoint.")
    return ArmError(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")


def _build(routes: list, vault: bool) -> Starlette:  # type: ignore[type-arg]
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _render(exc, request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            style = _style(request, vault)
            code = "NoRegisteredProviderFound" if style is ArmError else "BadRequest"
            return _render(style(405, code, f"The HTTP method '{request.method}' is not supported."), request)
        return _render(_not_found(request, vault), request)

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("emulator handler failed on %s %s", request.method, request.url.path)
        style = _style(request, vault)
        if style is AadError:
            return _render(AadError(500, "server_error", 90012, "The server encountered an error."), request)
        return _render(style(500, "InternalServerError", "The service encountered an internal error."), request)

    return Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: crash},
    )


class _Dispatch:
    """Routes a connection to the vault app when it arrived on a vault port, and ticks the clock first."""

    def __init__(self, runtime: Runtime, main: ASGIApp, vault: ASGIApp) -> None:
        self.runtime = runtime
        self.main = main
        self.vault = vault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.runtime.tick()
            if self.runtime.vault_for_scope(scope) is not None:
                await self.vault(scope, receive, send)
                return
        await self.main(scope, receive, send)


def create_app(runtime: Runtime) -> ASGIApp:
    main = _build(main_routes(), vault=False)
    vault = _build(vault_routes(), vault=True)
    for app in (main, vault):
        app.state.runtime = runtime

    def is_vault(scope: Scope) -> bool:
        return runtime.vault_for_scope(scope) is not None

    return FaultMiddleware(_Dispatch(runtime, main, vault), runtime.faults, is_vault)
