"""Paging of the list operations: `maxresults` (1-25, default 25) and a `nextLink` back to this vault.

The real `nextLink` is an absolute URL carrying `api-version`, an opaque `$skiptoken` (base64url JSON with a
`NextMarker`) and `maxresults`; azure-core follows it verbatim. Here the marker is the sort key of the last item
returned, so a page continues after it even when objects are added between pages. The last page has
`"nextLink": null`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from .errors import bad_parameter

__all__ = ["DEFAULT_PAGE_SIZE", "page"]

DEFAULT_PAGE_SIZE = 25


def _page_size(request: Request) -> int:
    raw = request.query_params.get("maxresults", "")
    if not raw:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= DEFAULT_PAGE_SIZE:
        raise bad_parameter(f"Invalid value for maxresults: {raw}. The value must be between 1 and 25.")
    return size


def _encode(marker: str) -> str:
    raw = json.dumps({"NextMarker": marker, "TargetLocation": 0}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        marker = data["NextMarker"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_parameter("The value of $skiptoken is not valid.") from None
    if not isinstance(marker, str):
        raise bad_parameter("The value of $skiptoken is not valid.")
    return marker


def page(
    request: Request, items: Sequence[tuple[str, dict[str, Any]]], *, base_url: str, api_version: str
) -> dict[str, Any]:
    """One page of `items` (pairs of sort key and wire shape, sorted by key) after the request's `$skiptoken`."""
    size = _page_size(request)
    token = request.query_params.get("$skiptoken")
    marker = _decode(token) if token else None
    remaining = [item for item in items if marker is None or item[0] > marker]
    chosen = remaining[:size]
    next_link = None
    if len(remaining) > size:
        query = urlencode(
            {"api-version": api_version, "$skiptoken": _encode(chosen[-1][0]), "maxresults": size}, safe="$"
        )
        next_link = f"{base_url}{request.url.path}?{query}"
    return {"value": [shape for _, shape in chosen], "nextLink": next_link}
