"""The world: the running emulator's info, reset to its scenario, load another scenario, the state dump and the
raw directory audit rows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.clock import format_time
from ....core.http import json_response, runtime, world
from ....core.scenario import ScenarioError, parse_scenario
from ..errors import bad_request
from .backend import dump

__all__ = ["audit", "info", "reset", "scenario", "state"]


async def info(request: Request) -> Response:
    return json_response(runtime(request).info())


async def reset(request: Request) -> Response:
    runtime(request).reset()
    return json_response({"reset": True, "now": format_time(runtime(request).clock.now())})


async def scenario(request: Request) -> Response:
    try:
        raw = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the scenario must be UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        data = parse_scenario(raw, "posted scenario")
        runtime(request).load(data)
    except ScenarioError as exc:
        raise bad_request(str(exc)) from None
    return json_response(runtime(request).info())


async def state(request: Request) -> Response:
    with world(request).lock:
        return json_response(dump(world(request), [r.to_json() for r in runtime(request).faults.rules]))


async def audit(request: Request) -> Response:
    return json_response(world(request).audit.rows)
