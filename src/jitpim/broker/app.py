"""The broker's HTTP API (ASGI, starlette), over `jitpim.broker.service.Broker`.

GET  /healthz                                   liveness and the policy version
POST /v1/requests                               a job asks (GitHub ID token): 201 new, 200 same request again
GET  /v1/requests/{id}                          the job polls its request (GitHub ID token)
POST /v1/requests/{id}/release                  the job ends its access (GitHub ID token)
GET  /v1/approvals                              pending requests the signed-in approver may decide (Entra)
GET  /v1/approvals/{id}                         one request, for an approver (Entra)
POST /v1/approvals/{id}                         {"decision": "approve"|"deny", "reason": "..."} (Entra)
POST /v1/reap                                   run the reaper now (Entra; the timer runs it anyway)
/dashboard/...                                  the read-only dashboard over the ledger, when mounted (people)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from .problems import Problem
from .service import Broker

__all__ = ["create_app"]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise Problem(413, "TooLarge", "the request body is over 64 KiB", "Send only the request fields.")
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "BadRequest", "the body is not JSON", "Send a JSON object.") from None
    if not isinstance(data, dict):
        raise Problem(400, "BadRequest", "the body must be a JSON object", "Send a JSON object.")
    return data


def _json(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def create_app(broker: Broker, mounts: Mapping[str, ASGIApp] | None = None) -> Starlette:
    """The broker's API; `mounts` adds further apps under path prefixes (the dashboard under /dashboard)."""

    def auth(request: Request) -> str | None:
        return request.headers.get("authorization")

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok", "policy_version": broker.policies.version})

    async def submit(request: Request) -> Response:
        body = await _body(request)
        stored, created = await run_in_threadpool(broker.submit, auth(request), body)
        return _json(stored.to_json(), 201 if created else 200)

    async def list_requests(request: Request) -> Response:
        found = await run_in_threadpool(broker.list_for_job, auth(request))
        return _json({"value": [r.to_json() for r in found]})

    async def get_request(request: Request) -> Response:
        found = await run_in_threadpool(broker.get_for_job, auth(request), request.path_params["id"])
        return _json(found.to_json())

    async def release(request: Request) -> Response:
        done = await run_in_threadpool(broker.release, auth(request), request.path_params["id"])
        return _json(done.to_json())

    async def approvals(request: Request) -> Response:
        found = await run_in_threadpool(broker.pending, auth(request))
        return _json({"value": [r.to_json() for r in found]})

    async def approval(request: Request) -> Response:
        def show() -> dict[str, Any]:
            broker.approver(auth(request))
            return broker.get(request.path_params["id"]).to_json()

        return _json(await run_in_threadpool(show))

    async def decide(request: Request) -> Response:
        body = await _body(request)
        done = await run_in_threadpool(
            broker.decide,
            auth(request),
            request.path_params["id"],
            str(body.get("decision") or ""),
            str(body.get("reason") or ""),
        )
        return _json(done.to_json())

    async def reap(request: Request) -> Response:
        def run() -> dict[str, int]:
            broker.approver(auth(request))
            return broker.reap()

        return _json(await run_in_threadpool(run))

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/requests", submit, methods=["POST"]),
        Route("/v1/requests", list_requests, methods=["GET"]),
        Route("/v1/requests/{id}", get_request, methods=["GET"]),
        Route("/v1/requests/{id}/release", release, methods=["POST"]),
        Route("/v1/approvals", approvals, methods=["GET"]),
        Route("/v1/approvals/{id}", approval, methods=["GET"]),
        Route("/v1/approvals/{id}", decide, methods=["POST"]),
        Route("/v1/reap", reap, methods=["POST"]),
    ]
    routes += [Mount(prefix, app=app) for prefix, app in (mounts or {}).items()]
    return Starlette(routes=routes, exception_handlers={Problem: problem})
