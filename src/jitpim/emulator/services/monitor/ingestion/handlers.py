"""The Logs Ingestion API: `POST /dataCollectionRules/{dcrImmutableId}/streams/{streamName}?api-version=...`.

Served at the root of the emulator's main port (the endpoint is the emulator's base URL), as a data
collection endpoint serves it. What it checks, in the order the service does:

* `api-version` present and known (`2023-01-01`, `2021-11-01-preview`): else 400;
* a bearer token issued for `https://monitor.azure.com` by this tenant: else 401;
* the rule exists: else 404; the caller holds `Microsoft.Insights/Telemetry/Write` on it (Monitoring Metrics
  Publisher): else 403 `OperationFailed` with the service's own sentence;
* the body (gzip when `Content-Encoding: gzip`, as `azure-monitor-ingestion` sends it) is at most 1 MB and a
  JSON array of objects: else 413 / 400; the stream is declared in the rule: else 400.

On success the rows are stored (see the control plane's state dump, key `monitor`) and the answer is 204.
Error bodies use Azure's `{"error": {"code", "message"}}` envelope.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from ....core.errors import ArmError
from ....core.http import no_content, world
from ....core.tokens import AUDIENCES, Caller, TokenInvalid
from ..state import MonitorState
from .backend import ingest

__all__ = ["API_VERSIONS", "upload"]

API_VERSIONS: Final = frozenset({"2023-01-01", "2021-11-01-preview"})
_AUDIENCE: Final = AUDIENCES["monitor"]


def _caller(request: Request) -> Caller:
    w = world(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    try:
        claims = w.entra_key.verify(token.strip(), audience=[_AUDIENCE, _AUDIENCE + "/"])
    except TokenInvalid as exc:
        if exc.reason == "audience":
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource. It should exactly match "
                f"with one of the allowed audiences '{_AUDIENCE}'.",
            ) from None
        if exc.reason == "expired":
            raise ArmError(401, "ExpiredAuthenticationToken", "The access token has expired.") from None
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    if claims.get("tid") != w.tenant_id or claims.get("iss") != w.authority_issuer:
        raise ArmError(401, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.")
    return Caller.from_claims(claims)


async def upload(request: Request) -> Response:
    version = request.query_params.get("api-version")
    if not version:
        raise ArmError(
            400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required."
        )
    if version not in API_VERSIONS:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. Supported versions: {', '.join(sorted(API_VERSIONS))}.",
        )
    caller = _caller(request)
    raw = await request.body()  # read before taking the lock: never await while holding state
    w = world(request)
    state = w.service("monitor", MonitorState)
    rule_id = request.path_params["rule_id"]
    stream_name = request.path_params["stream"]
    with w.lock:
        ingest(w, state, caller, rule_id, stream_name, raw, request.headers.get("content-encoding", ""))
    return no_content()
