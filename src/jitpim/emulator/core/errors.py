"""Error envelopes of the emulated services.

Each service family answers errors in its own real shape; handlers raise one of these and the app renders
it. Nothing here ever renders a Python traceback to the client.

    ApiError                 status + code + message; `style` picks the envelope
    ├─ GraphError            {"error": {"code", "message", "innerError": {"date", "request-id", ...}}}
    ├─ ArmError              {"error": {"code", "message"}}
    ├─ KeyVaultError         {"error": {"code", "message", "innererror": {"code"}}}
    └─ AadError              {"error", "error_description": "AADSTS…", "error_codes", "trace_id", ...}
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

__all__ = ["AadError", "ApiError", "ArmError", "GraphError", "KeyVaultError"]


class ApiError(Exception):
    style: ClassVar[str] = "arm"

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        inner_code: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner_code = inner_code

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def render(self, request_id: str, client_request_id: str | None = None) -> bytes:
        return json.dumps(self.body(request_id, client_request_id)).encode()


class ArmError(ApiError):
    style = "arm"


class GraphError(ApiError):
    style = "graph"

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


class KeyVaultError(ApiError):
    style = "keyvault"

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner_code:
            error["innererror"] = {"code": self.inner_code}
        return {"error": error}


class AadError(ApiError):
    """The Entra token endpoint's OAuth error shape, with the AADSTS number in the description."""

    style = "aad"

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(status, error, f"AADSTS{aadsts}: {description}")
        self.aadsts = aadsts

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "error": self.code,
            "error_description": f"{self.message} Trace ID: {request_id} Correlation ID: "
            f"{client_request_id or request_id} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [self.aadsts],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": request_id,
            "correlation_id": client_request_id or str(uuid.uuid4()),
        }
