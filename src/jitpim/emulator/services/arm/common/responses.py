"""ARM's list envelopes: `{"value": [...]}`, and the paged form with an absolute `nextLink`."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import Response

from ....core.errors import ArmError
from ....core.http import json_response
from .context import Ctx

__all__ = ["list_response", "paged_list_response"]


def list_response(items: list[dict[str, Any]]) -> Response:
    return json_response({"value": items})


_SKIP_PREFIX = "skip:"


def _skip_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode() + b"==").decode()
        skip = int(text.removeprefix(_SKIP_PREFIX)) if text.startswith(_SKIP_PREFIX) else -1
    except (ValueError, UnicodeDecodeError):
        skip = -1
    if skip < 0:
        raise ArmError(400, "InvalidSkipToken", "The provided skip token is invalid.")
    return skip


def paged_list_response(ctx: Ctx, items: list[dict[str, Any]], *, page_size: int = 100) -> Response:
    """A list envelope of at most `page_size` items, with an absolute `nextLink` (same route and query, an opaque
    `$skiptoken`) while more remain, as ARM pages role assignment lists; azure-mgmt's ItemPaged follows it."""
    skip = _skip_of(ctx.query.get("$skiptoken"))
    body: dict[str, Any] = {"value": items[skip : skip + page_size]}
    if skip + page_size < len(items):
        token = base64.urlsafe_b64encode(f"{_SKIP_PREFIX}{skip + page_size}".encode()).decode().rstrip("=")
        parts = urlsplit(ctx.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "$skiptoken"]
        query.append(("$skiptoken", token))
        body["nextLink"] = urlunsplit(parts._replace(query=urlencode(query, safe="$',()=")))
    return json_response(body)
