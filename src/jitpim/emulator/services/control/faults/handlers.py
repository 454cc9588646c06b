"""Fault rules: list, add (one rule or a list; each validated) and clear them all."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from ....core.faults import parse_rule
from ....core.http import json_response, runtime
from ....core.json_text import JsonTextError, parse_json
from ..errors import bad_request

__all__ = ["faults"]


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
        raise bad_request(f"the body must be a JSON fault rule or a list of them: {exc}") from None
    items = data if isinstance(data, list) else [data]
    added = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("each fault rule must be a JSON object")
        try:
            added.append(rt.faults.add(parse_rule(item)).to_json())
        except (TypeError, ValueError, re.error) as exc:
            raise bad_request(f"invalid fault rule: {exc}") from None
    return json_response(added, status=201)
