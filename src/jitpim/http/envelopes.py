"""Reading the error envelopes of the APIs jitpim calls into one `ProviderApiError`.

    Graph      {"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}
               (PIM sometimes wraps the real error as JSON in `message`: {"errorCode", "message"})
    ARM        {"error": {"code", "message", "target", "details": [...], "additionalInfo": [...]}}
    Key Vault  {"error": {"code", "message", "innererror": {"code"}}}  + header x-ms-error-code
    Entra      {"error": "invalid_client", "error_description": "AADSTS700016: ...", "error_codes": [...],
                "trace_id", "correlation_id"}
    GitHub     {"message": "..."}

Nothing here keeps or prints a response body beyond the error's code and message; bodies of successful
responses (which may hold secret values) never reach this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError, ProviderApiError, ThrottledError

__all__ = ["ParsedError", "auth_error_from", "error_for_response", "parse_error_body", "sanitize_aad_message"]

_AADSTS = re.compile(r"\b(AADSTS\d+)\b")
# Entra appends diagnostics to every description; they are noise in a CLI message (the request id is kept).
_AAD_TAIL = re.compile(r"\s*(Trace ID:.*)$", re.DOTALL)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-_.~+/=]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*")
_MAX_MESSAGE = 2000

_HINTS = {
    400: "The API refused the request as invalid; the message names the field or rule.",
    401: "The token was refused: check the cloud, the tenant, and that the identity exists in that tenant.",
    403: "The identity lacks permission for this call: check its roles and app permissions "
    "(a grant made moments ago may still be propagating).",
    404: "Check the ids and the scope; a newly created object can take a moment to replicate.",
    409: "The object is in a conflicting state (it may already exist).",
    429: "The API is throttling these calls; try again later.",
}


@dataclass(frozen=True)
class ParsedError:
    code: str | None
    message: str
    request_id: str | None
    inner_code: str | None


def _redact(text: str) -> str:
    """Defence in depth: nothing that looks like a bearer token or a JWT leaves this module."""
    text = _BEARER.sub(r"\1[redacted]", text)
    return _JWT.sub("[redacted-jwt]", text)


def sanitize_aad_message(description: str) -> str:
    """An Entra error description without its trailing trace/correlation/timestamp block."""
    return _redact(_AAD_TAIL.sub("", description).strip())


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in names:
        value = lowered.get(name)
        if value:
            return value
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_error_body(status: int, body: bytes | str | None, headers: Mapping[str, str]) -> ParsedError:
    """Parse any of the envelopes above (or a non-JSON body) into code, message, request id, inner code."""
    raw = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    try:
        data: Any = json.loads(raw) if raw.strip() else None
    except ValueError:
        data = None
    code: str | None = None
    inner_code: str | None = None
    request_id: str | None = None
    message = ""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        code = _text(error.get("code"))
        message = _text(error.get("message")) or ""
        inner = error.get("innerError") or error.get("innererror")
        if isinstance(inner, dict):
            inner_code = _text(inner.get("code"))
            request_id = _text(inner.get("request-id"))
        # PIM wraps backend errors: code "UnknownError" and a JSON object as the message.
        if message.startswith("{"):
            try:
                wrapped = json.loads(message)
            except ValueError:
                wrapped = None
            if isinstance(wrapped, dict) and _text(wrapped.get("errorCode")):
                code = wrapped["errorCode"]
                message = _text(wrapped.get("message")) or message
        if not message and isinstance(error.get("details"), list) and error["details"]:
            first = error["details"][0]
            if isinstance(first, dict):
                message = _text(first.get("message")) or ""
    elif isinstance(data, dict) and isinstance(data.get("error"), str):
        code = data["error"]
        description = _text(data.get("error_description")) or ""
        found = _AADSTS.search(description)
        inner_code = found.group(1) if found else None
        if inner_code is None and isinstance(data.get("error_codes"), list) and data["error_codes"]:
            inner_code = f"AADSTS{data['error_codes'][0]}"
        message = sanitize_aad_message(description)
        request_id = _text(data.get("trace_id"))
    elif isinstance(data, dict) and _text(data.get("message")):
        message = data["message"]
    elif raw.strip() and not raw.lstrip().startswith("<"):
        message = raw.strip()
    inner_code = inner_code or _header(headers, "x-ms-error-code")
    if inner_code == code:
        inner_code = None
    request_id = request_id or _header(headers, "request-id", "x-ms-request-id", "x-ms-correlation-request-id")
    message = _redact(message)[:_MAX_MESSAGE] or f"HTTP {status}"
    return ParsedError(code=code, message=message, request_id=request_id, inner_code=inner_code)


def error_for_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    retry_after: float | None = None,
) -> ProviderApiError:
    """The exception to raise for an error response (`ThrottledError` for 429)."""
    parsed = parse_error_body(status, body, headers)
    where = url.split("?", 1)[0]
    label = parsed.code or f"HTTP {status}"
    if parsed.inner_code:
        label += f"/{parsed.inner_code}"
    text = f"{method} {where} failed with {status} {label}: {parsed.message}"
    if status == 429:
        wait = f" (the API asked to wait {retry_after:g} s)" if retry_after is not None else ""
        return ThrottledError(
            text + wait,
            retry_after=retry_after,
            request_id=parsed.request_id,
            inner_code=parsed.inner_code,
            hint=_HINTS[429],
        )
    hint = _HINTS.get(status)
    if hint is None and status >= 500:
        hint = "The service failed; try again later. A write may still have been applied."
    return ProviderApiError(
        text,
        status=status,
        code=parsed.code,
        request_id=parsed.request_id,
        inner_code=parsed.inner_code,
        hint=hint,
    )


def auth_error_from(exc: BaseException, *, what: str = "obtaining a token") -> AuthError:
    """An `AuthError` for an azure-identity/MSAL failure: the AADSTS code and message, never a token."""
    text = str(getattr(exc, "message", None) or exc)
    found = _AADSTS.search(text)
    code = found.group(1) if found else None
    # azure-identity phrases it "Microsoft Entra ID error '(invalid_client) AADSTS700213: ...'".
    cleaned = sanitize_aad_message(text.replace("\r", " "))
    cleaned = cleaned.splitlines()[0] if cleaned else type(exc).__name__
    message = f"{what} failed" + (f" ({code})" if code else "") + f": {cleaned[:_MAX_MESSAGE]}"
    return AuthError(message)
