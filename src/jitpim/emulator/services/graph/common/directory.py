"""What every directory-object route shares: the directory's error bodies, listing with the OData options
Graph honours on directory entity sets, single-entity responses, and audit-row building blocks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request

from ....core.errors import GraphError
from .errors import bad_request
from .odata import collection, entity, select

__all__ = ["listing", "single"]


def _check_select(request: Request, known: Iterable[str], type_name: str) -> None:
    raw = request.query_params.get("$select")
    if not raw:
        return
    names = set(known)
    for wanted in (f.strip() for f in raw.split(",")):
        if wanted and wanted not in names:
            raise bad_request(f"Could not find a property named '{wanted}' on type '{type_name}'.")


def _order(request: Request, rows: list[dict[str, Any]], fields: set[str], resource: str) -> list[dict[str, Any]]:
    raw = request.query_params.get("$orderby")
    if not raw:
        return rows
    name, _, direction = raw.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if name not in fields or direction not in ("asc", "desc"):
        raise GraphError(
            400, "Request_UnsupportedQuery", f"Sorting not supported for property '{name}' of resource '{resource}'."
        )
    return sorted(
        rows, key=lambda r: (r.get(name) is None, str(r.get(name) or "").lower()), reverse=direction == "desc"
    )


def listing(
    request: Request,
    rows: Sequence[dict[str, Any]],
    context: str,
    *,
    resource: str,
    type_name: str,
    fields: set[str],
    order_fields: set[str] | None = None,
    allow_or: bool = True,
    default_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A collection answer: `$filter` on `fields` (others answer `Request_UnsupportedQuery`), `$orderby`,
    `$select` (unknown names answer 400), `$top`, `$count`, paging. `default_fields` is the property set
    Graph returns without `$select` (users)."""
    known: set[str] = set(fields) | {"id"}
    for row in rows:
        known.update(row)
    if default_fields is not None:
        known.update(default_fields)
    if rows or default_fields is not None:
        # An empty list says nothing about the type's properties: only check when there are rows to judge by.
        _check_select(request, known, type_name)
    ordered = _order(request, list(rows), order_fields or set(), resource)
    body = collection(request, ordered, context, fields=fields, allow_or=allow_or, resource=resource)
    if default_fields is not None and not request.query_params.get("$select"):
        keep = set(default_fields)
        body["value"] = [
            {k: v for k, v in item.items() if k in keep or k.startswith("@odata")} for item in body["value"]
        ]
    return body


def single(
    request: Request,
    item: dict[str, Any],
    context: str,
    *,
    type_name: str,
    default_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One entity with `@odata.context` and `$select` applied."""
    _check_select(request, item.keys(), type_name)
    fields = request.query_params.get("$select")
    shaped = select(item, fields)
    if default_fields is not None and not fields:
        keep = set(default_fields)
        shaped = {k: v for k, v in item.items() if k in keep or k.startswith("@odata")}
    return entity(request, shaped, context)
