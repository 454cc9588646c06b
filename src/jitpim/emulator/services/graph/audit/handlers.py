"""`GET /auditLogs/directoryAudits` (+ `/{id}`): the directory audit log every PIM change writes to.

Supports `$filter` (`eq`, `ne`, `ge`, `le`, `startswith`, `and`, plus the common
`targetResources/any(t:t/id eq '...')`), `$top`, `$orderby=activityDateTime desc|asc` (newest first when
absent) and paging with `@odata.nextLink`. Needs AuditLog.Read.All (app), or delegated AuditLog.Read.All plus
a role that may read audit logs (Reports Reader, Security Reader, Global Reader, ...).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.errors import GraphError
from ....core.http import json_response, world
from ..common.authz import require
from ..common.odata import collection, entity, parse_filter

__all__ = ["get_audit", "list_audits"]

_CONTEXT = "auditLogs/directoryAudits"
_ANY = re.compile(r"targetResources/any\((\w+)\s*:\s*\1/(\w+)\s+eq\s+'((?:[^']|'')*)'\)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\s+and\s+__any__|__any__\s+and\s+|__any__", re.IGNORECASE)


def _authorize(request: Request) -> None:
    require(
        request,
        app=["AuditLog.Read.All", "Directory.Read.All"],
        delegated=["AuditLog.Read.All", "Directory.Read.All"],
        directory_actions=["microsoft.directory/auditLogs/allProperties/read"],
        user_needs_role=True,
    )


def _split_any(flt: str) -> tuple[str, list[tuple[str, str]]]:
    """Take the `targetResources/any(...)` clauses out of a filter (the shared parser has no lambdas)."""
    clauses = [(m.group(2), m.group(3).replace("''", "'")) for m in _ANY.finditer(flt)]
    rest = _PLACEHOLDER.sub("", _ANY.sub("__any__", flt)).strip()
    return rest, clauses


def _order(rows: list[dict[str, Any]], orderby: str | None) -> list[dict[str, Any]]:
    text = (orderby or "activityDateTime desc").strip()
    match = re.fullmatch(r"activityDateTime(?:\s+(asc|desc))?", text, re.IGNORECASE)
    if not match:
        raise GraphError(400, "BadRequest", f"Invalid $orderby: '{text}'. Only activityDateTime is supported.")
    descending = (match.group(1) or "asc").lower() == "desc"
    indexed = list(enumerate(rows))
    indexed.sort(key=lambda pair: (pair[1]["activityDateTime"], pair[0]), reverse=descending)
    return [row for _, row in indexed]


async def list_audits(request: Request) -> Response:
    _authorize(request)
    w = world(request)
    flt, any_clauses = _split_any(request.query_params.get("$filter") or "")
    predicate = parse_filter(flt or None)
    rows = [r for r in list(w.audit.rows) if predicate(r)]
    for prop, value in any_clauses:
        rows = [
            r
            for r in rows
            if any(str(t.get(prop) or "").lower() == value.lower() for t in r.get("targetResources") or [])
        ]
    rows = _order(rows, request.query_params.get("$orderby"))
    return json_response(collection(request, rows, _CONTEXT, filtered=True, max_top=1000))


async def get_audit(request: Request) -> Response:
    _authorize(request)
    key = request.path_params["key"]
    row = next((r for r in list(world(request).audit.rows) if r["id"] == key), None)
    if row is None:
        raise GraphError(404, "ResourceNotFound", f"The directory audit '{key}' was not found.")
    return json_response(entity(request, row, _CONTEXT))
