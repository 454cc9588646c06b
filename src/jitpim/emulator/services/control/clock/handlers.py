"""The emulated clock: read it (`now`, `offset_seconds`: what a client waiting on emulated time compares its
deadline with), and move it forward; expiries, scheduled starts and propagation follow at once."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.clock import format_time
from ....core.errors import ArmError
from ....core.http import json_body, json_response, runtime
from ....core.json_text import is_finite_number
from ..errors import bad_request

__all__ = ["MAX_ADVANCE_SECONDS", "advance", "clock"]

MAX_ADVANCE_SECONDS = 10 * 365 * 86400


async def clock(request: Request) -> Response:
    c = runtime(request).clock
    return json_response({"now": format_time(c.now()), "offset_seconds": c.offset.total_seconds()})


async def advance(request: Request) -> Response:
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    seconds = body.get("seconds")
    if not is_finite_number(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise bad_request(
            f"'seconds' must be a finite number from 0 to {MAX_ADVANCE_SECONDS} (ten years), not {seconds!r}; "
            "the clock only moves forward"
        )
    rt = runtime(request)
    rt.clock.advance(float(seconds))
    now = rt.tick()
    return json_response({"now": format_time(now), "offset_seconds": rt.clock.offset.total_seconds()})
