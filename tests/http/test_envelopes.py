"""Error envelopes of Graph, ARM, Key Vault, Entra and GitHub parsed into one error (no emulator needed)."""

from __future__ import annotations

import json

import pytest

from jitpim.errors import ProviderApiError, ThrottledError
from jitpim.http import error_for_response, parse_error_body

RID = "69ee6b4a-0000-4000-8000-000000000001"


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_parse_reads_graph_envelope_when_inner_error_has_request_id() -> None:
    """Graph: code, message, innerError.request-id."""
    body = _body(
        {
            "error": {
                "code": "RoleAssignmentRequestPolicyValidationFailed",
                "message": 'The following policy rules failed: ["JustificationRule"]',
                "innerError": {"date": "2026-09-06T17:26:33", "request-id": RID, "client-request-id": "c"},
            }
        }
    )
    parsed = parse_error_body(400, body, {})
    assert parsed.code == "RoleAssignmentRequestPolicyValidationFailed"
    assert "JustificationRule" in parsed.message
    assert parsed.request_id == RID and parsed.inner_code is None


def test_parse_prefers_wrapped_code_when_graph_reports_unknown_error() -> None:
    """PIM's `UnknownError` with a JSON message: the inner errorCode wins."""
    wrapped = json.dumps(
        {"errorCode": "PermissionScopeNotGranted", "message": "scope missing", "instanceAnnotations": []}
    )
    parsed = parse_error_body(403, _body({"error": {"code": "UnknownError", "message": wrapped}}), {"request-id": RID})
    assert (parsed.code, parsed.message, parsed.request_id) == ("PermissionScopeNotGranted", "scope missing", RID)


def test_parse_reads_arm_envelope_when_request_id_is_a_header() -> None:
    """ARM: error.code/message; the request id comes from x-ms-request-id; details fill an empty message."""
    parsed = parse_error_body(
        409,
        _body({"error": {"code": "RoleAssignmentExists", "message": "The role assignment already exists."}}),
        {"X-Ms-Request-Id": RID},
    )
    assert (parsed.code, parsed.request_id) == ("RoleAssignmentExists", RID)
    detail = parse_error_body(400, _body({"error": {"code": "X", "message": "", "details": [{"message": "d"}]}}), {})
    assert detail.message == "d"


def test_parse_reads_keyvault_inner_code_when_forbidden_by_rbac() -> None:
    """Key Vault: `innererror.code` (lower-case key) becomes inner_code."""
    body = _body(
        {
            "error": {
                "code": "Forbidden",
                "message": "Caller is not authorized",
                "innererror": {"code": "ForbiddenByRbac"},
            }
        }
    )
    parsed = parse_error_body(403, body, {"x-ms-request-id": RID})
    assert (parsed.code, parsed.inner_code, parsed.request_id) == ("Forbidden", "ForbiddenByRbac", RID)
    header_only = parse_error_body(
        404, _body({"error": {"code": "SecretNotFound", "message": "m"}}), {"x-ms-error-code": "SecretNotFound"}
    )
    assert header_only.inner_code is None  # the same as code: not repeated


def test_parse_reads_aad_envelope_when_token_endpoint_fails() -> None:
    """Entra: `error` string, AADSTS code, description without the trace block, trace id as request id."""
    body = _body(
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: t Correlation ID: c "
            "Timestamp: 2026-01-01 00:00:00Z",
            "error_codes": [7000215],
            "trace_id": RID,
        }
    )
    parsed = parse_error_body(401, body, {})
    assert (parsed.code, parsed.inner_code, parsed.request_id) == ("invalid_client", "AADSTS7000215", RID)
    assert parsed.message == "AADSTS7000215: Invalid client secret provided."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body({"message": "Unauthorized: bad token"}), "Unauthorized: bad token"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTTP 502"),
        (b"", "HTTP 502"),
        (b"upstream connect error", "upstream connect error"),
    ],
)
def test_parse_falls_back_when_body_is_not_an_azure_envelope(body: bytes, message: str) -> None:
    """GitHub's {message}, HTML gateway pages and empty bodies still give a readable message."""
    assert parse_error_body(502, body, {}).message == message


def test_parse_redacts_tokens_when_a_message_echoes_one() -> None:
    """A bearer token or JWT inside an error message never leaves the parser."""
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJl"
    parsed = parse_error_body(401, _body({"error": {"code": "X", "message": f"bad Bearer {jwt} and {jwt}"}}), {})
    assert jwt not in parsed.message and "[redacted" in parsed.message


def test_error_for_response_gives_throttled_error_when_status_is_429() -> None:
    """429 maps to ThrottledError with retry_after; other statuses to ProviderApiError with a hint."""
    throttled = error_for_response(
        429,
        _body({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        {"request-id": RID},
        method="GET",
        url="https://graph.microsoft.com/v1.0/users?$top=1",
        retry_after=7.0,
    )
    assert isinstance(throttled, ThrottledError)
    assert (throttled.status, throttled.retry_after, throttled.request_id) == (429, 7.0, RID)
    assert "$top" not in throttled.message and "7 s" in throttled.message
    failed = error_for_response(503, b"", {}, method="POST", url="https://x/y")
    assert type(failed) is ProviderApiError and failed.status == 503 and "may still have been applied" in failed.hint
    assert failed.to_json()["exit_code"] == 78
