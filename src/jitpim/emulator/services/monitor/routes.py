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

import gzip
import zlib
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.errors import ArmError
from ...core.http import no_content, world
from ...core.json_text import JsonTextError, parse_json
from ...core.tokens import AUDIENCES, Caller, TokenInvalid
from .state import TELEMETRY_WRITE, IngestedRow, MonitorState

__all__ = ["API_VERSIONS", "ROUTES"]

API_VERSIONS: Final = frozenset({"2023-01-01", "2021-11-01-preview"})
MAX_BODY_BYTES: Final = 1024 * 1024
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


def _rows(raw: bytes, encoding: str) -> list[dict[str, Any]]:
    if len(raw) > MAX_BODY_BYTES:
        raise ArmError(413, "ContentLengthLimitExceeded", "The request body exceeds the maximum size of 1 MB.")
    if encoding == "gzip":
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, MAX_BODY_BYTES + 1)
            if decompressor.unconsumed_tail or len(raw) > MAX_BODY_BYTES:
                raise ArmError(
                    413, "ContentLengthLimitExceeded", "The decompressed request body exceeds the maximum size of 1 MB."
                )
        except (OSError, zlib.error, gzip.BadGzipFile):
            raise ArmError(400, "InvalidContentEncoding", "The request body is not valid gzip data.") from None
    elif encoding not in ("", "identity"):
        raise ArmError(400, "InvalidContentEncoding", f"Content-Encoding '{encoding}' is not supported.")
    try:
        data = parse_json(raw)
    except JsonTextError as exc:
        raise ArmError(400, "InvalidRequestBody", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ArmError(400, "InvalidRequestBody", "The request body must be a JSON array of objects.")
    return data


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
        now = w.clock.now()
        rule = state.rule(rule_id)
        if rule is None:
            raise ArmError(404, "NotFound", f"Data collection rule with immutable Id '{rule_id}' not found.")
        principals = w.directory.principal_and_groups(caller.object_id, now)
        if not w.rbac.allowed(principals, rule.resource_id, TELEMETRY_WRITE, data=True, now=now):
            raise ArmError(
                403,
                "OperationFailed",
                "The authentication token provided does not have access to ingest data for the data collection "
                f"rule with immutable Id '{rule.immutable_id}'.",
            )
        rows = _rows(raw, request.headers.get("content-encoding", "").strip().lower())
        stream = rule.stream(stream_name)
        if stream is None:
            raise ArmError(
                400,
                "InvalidStream",
                f"Data collection rule with immutable Id '{rule.immutable_id}' does not contain stream "
                f"'{stream_name}'.",
            )
        state.rows.extend(IngestedRow(rule.immutable_id, stream, now, caller.object_id, row) for row in rows)
    return no_content()


ROUTES = [Route("/dataCollectionRules/{rule_id}/streams/{stream}", upload, methods=["POST"])]
