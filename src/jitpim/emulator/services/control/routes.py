"""The control plane under `/_emulator/`: reset, load a scenario, dump state, move the clock, inject
faults, mint a delegated (user) token as an interactive sign-in would, and set the GitHub job's claims.

It is unauthenticated by design: the emulator only ever listens on loopback.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.clock import format_time
from ...core.errors import ArmError
from ...core.faults import parse_rule
from ...core.http import json_body, json_response, runtime, world
from ...core.json_text import JsonTextError, is_finite_number, parse_json
from ...core.scenario import ScenarioError, parse_scenario
from ..github.routes import mint_id_token
from ..identity.routes import issue_user_token

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/_emulator"
MAX_ADVANCE_SECONDS = 10 * 365 * 86400


def _bad(message: str) -> ArmError:
    return ArmError(400, "InvalidControlRequest", message)


async def info(request: Request) -> Response:
    return json_response(runtime(request).info())


async def reset(request: Request) -> Response:
    runtime(request).reset()
    return json_response({"reset": True, "now": format_time(runtime(request).clock.now())})


async def scenario(request: Request) -> Response:
    try:
        raw = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the scenario must be UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        data = parse_scenario(raw, "posted scenario")
        runtime(request).load(data)
    except ScenarioError as exc:
        raise _bad(str(exc)) from None
    return json_response(runtime(request).info())


def _state(request: Request) -> dict[str, Any]:
    w = world(request)
    now = w.clock.now()
    directory = w.directory
    data: dict[str, Any] = {
        "now": format_time(now),
        "clock_offset_seconds": w.clock.offset.total_seconds(),
        "tenant_id": w.tenant_id,
        "subscription_id": w.subscription_id,
        "settings": vars(w.settings),
        "directory_role_assignments": [
            {
                "id": a.id,
                "principal_id": a.principal_id,
                "role_definition_id": a.role_definition_id,
                "role": directory.role_definitions[a.role_definition_id].display_name
                if a.role_definition_id in directory.role_definitions
                else None,
                "directory_scope_id": a.directory_scope_id,
                "source": a.source,
                "start": format_time(a.start),
                "end": format_time(a.end),
                "active": a.active(now),
            }
            for a in directory.role_assignments
        ],
        "group_memberships": [
            {
                "group_id": g.object_id,
                "group": g.display_name,
                "principal_id": pid,
                "access": access,
                "source": m.source,
                "start": format_time(m.start),
                "end": format_time(m.end),
                "active": m.active(now),
            }
            for g in directory.groups.values()
            for access, table in (("member", g.members), ("owner", g.owners))
            for pid, m in table.items()
        ],
        "role_assignments": [
            {
                "id": a.id,
                "name": a.name,
                "scope": a.scope,
                "role_definition_id": a.role_definition_id,
                "role": w.rbac.definitions[a.role_definition_id].role_name
                if a.role_definition_id in w.rbac.definitions
                else None,
                "principal_id": a.principal_id,
                "created_on": format_time(a.created_on),
                "end": format_time(a.end),
                "effective": a.effective(now, w.rbac.propagation),
                "schedule_id": a.schedule_id,
            }
            for a in w.rbac.assignments.values()
        ],
        "audit_rows": len(w.audit.rows),
        "faults": [r.to_json() for r in runtime(request).faults.rules],
    }
    for name, state in w.services().items():
        dump = getattr(state, "dump", None)
        if callable(dump):
            data[name] = dump(now)
    return data


async def state(request: Request) -> Response:
    with world(request).lock:
        return json_response(_state(request))


async def clock(request: Request) -> Response:
    c = runtime(request).clock
    return json_response({"now": format_time(c.now()), "offset_seconds": c.offset.total_seconds()})


async def advance(request: Request) -> Response:
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    seconds = body.get("seconds")
    if not is_finite_number(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise _bad(
            f"'seconds' must be a finite number from 0 to {MAX_ADVANCE_SECONDS} (ten years), not {seconds!r}; "
            "the clock only moves forward"
        )
    rt = runtime(request)
    rt.clock.advance(float(seconds))
    now = rt.world.tick()
    return json_response({"now": format_time(now), "offset_seconds": rt.clock.offset.total_seconds()})


async def faults(request: Request) -> Response:
    rt = runtime(request)
    if request.method == "GET":
        return json_response([r.to_json() for r in rt.faults.rules])
    if request.method == "DELETE":
        rt.faults.clear()
        return Response(status_code=204)
    raw = await request.body()
    try:
        data = parse_json(raw) if raw.strip() else {}
    except JsonTextError as exc:
        raise _bad(f"the body must be a JSON fault rule or a list of them: {exc}") from None
    items = data if isinstance(data, list) else [data]
    added = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad("each fault rule must be a JSON object")
        try:
            added.append(rt.faults.add(parse_rule(item)).to_json())
        except (TypeError, ValueError, re.error) as exc:
            raise _bad(f"invalid fault rule: {exc}") from None
    return json_response(added, status=201)


async def user_token(request: Request) -> Response:
    """A delegated token for a seeded user, as an interactive sign-in (with or without MFA) would yield."""
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    w = world(request)
    name = body.get("principal") or body.get("user")
    if not isinstance(name, str):
        raise _bad("'principal' (a seeded user's name or UPN) is required")
    oid = w.principal_id(name)
    user = w.directory.users.get(oid or "")
    if user is None:
        raise _bad(f"{name!r} is not a seeded user")
    scope = body.get("scope") or "https://graph.microsoft.com/.default"
    mfa = body.get("mfa")
    client_id = body.get("client_id") or "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    with w.lock:
        return issue_user_token(w, user, client_id, scope, mfa=mfa if isinstance(mfa, bool) else None)


async def github_claims(request: Request) -> Response:
    w = world(request)
    if request.method == "GET":
        return json_response(w.github_claims)
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    if body.get("replace"):
        w.github_claims = {}
    w.github_claims.update({k: v for k, v in (body.get("claims") or body).items() if k != "replace"})
    return json_response(w.github_claims)


async def github_token(request: Request) -> Response:
    """A GitHub Actions ID token of the scenario's job with a chosen lifetime (default GitHub's 300 s), for a
    workload-identity token file that ordinary SDK code reads (`AZURE_FEDERATED_TOKEN_FILE`)."""
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    audience = body.get("audience", "api://AzureADTokenExchange")
    lifetime = body.get("lifetime_seconds", 300)
    if not isinstance(audience, str) or not audience:
        raise _bad("'audience' must be a non-empty string")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or not 60 <= lifetime <= 7 * 86400:
        raise _bad("'lifetime_seconds' must be an integer between 60 and 604800")
    return json_response({"value": mint_id_token(world(request), audience, lifetime)})


async def audit(request: Request) -> Response:
    return json_response(world(request).audit.rows)


ROUTES = [
    Route("/info", info, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/scenario", scenario, methods=["POST"]),
    Route("/state", state, methods=["GET"]),
    Route("/clock", clock, methods=["GET"]),
    Route("/clock/advance", advance, methods=["POST"]),
    Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/tokens", user_token, methods=["POST"]),
    Route("/github/claims", github_claims, methods=["GET", "PATCH", "POST"]),
    Route("/github/token", github_token, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
]
