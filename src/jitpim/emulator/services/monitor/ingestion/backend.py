"""What an upload to the Logs Ingestion API does: the body read (gzip when `Content-Encoding: gzip`, as
`azure-monitor-ingestion` sends it; at most 1 MB; a JSON array of objects), the rule and stream found, the
caller's `Microsoft.Insights/Telemetry/Write` on the rule checked, and the rows stored."""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Final

from ....core.errors import ArmError
from ....core.json_text import JsonTextError, parse_json
from ....core.tokens import Caller
from ....core.world import World
from ..state import TELEMETRY_WRITE, IngestedRow, MonitorState

__all__ = ["MAX_BODY_BYTES", "ingest"]

MAX_BODY_BYTES: Final = 1024 * 1024


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


def ingest(
    w: World, state: MonitorState, caller: Caller, rule_id: str, stream_name: str, raw: bytes, encoding: str
) -> None:
    """The rows of an upload stored under the rule's stream, after the rule, the caller's right to write to it,
    the body and the stream are checked, in the service's order."""
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
    rows = _rows(raw, encoding.strip().lower())
    stream = rule.stream(stream_name)
    if stream is None:
        raise ArmError(
            400,
            "InvalidStream",
            f"Data collection rule with immutable Id '{rule.immutable_id}' does not contain stream '{stream_name}'.",
        )
    state.rows.extend(IngestedRow(rule.immutable_id, stream, now, caller.object_id, row) for row in rows)
