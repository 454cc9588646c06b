"""One HTTP client for every API jitpim calls: azure-core pipeline, retries honouring `Retry-After`, error
envelopes parsed into `ProviderApiError`, paging. Importing this package does not import azure-core; the
pipeline is built on a client's first call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import DEFAULT_EXPECTED, ApiClient, ApiResponse, arm_client, graph_client, keyvault_client
from .connectivity import connection_refused, is_loopback_url, unreachable_hint
from .counter import Call, RequestCounter
from .envelopes import ParsedError, auth_error_from, error_for_response, parse_error_body
from .retry import RetryEvent, RetrySettings, default_sleep, is_testing, parse_retry_after, set_testing

if TYPE_CHECKING:
    from collections.abc import Callable

    from azure.core.pipeline.policies import HTTPPolicy

__all__ = [
    "DEFAULT_EXPECTED",
    "ApiClient",
    "ApiResponse",
    "Call",
    "ParsedError",
    "RequestCounter",
    "RetryEvent",
    "RetrySettings",
    "arm_client",
    "auth_error_from",
    "connection_refused",
    "default_sleep",
    "error_for_response",
    "graph_client",
    "is_loopback_url",
    "is_testing",
    "keyvault_client",
    "parse_error_body",
    "parse_retry_after",
    "retry_policy",
    "set_testing",
    "unreachable_hint",
]


def retry_policy(
    settings: RetrySettings | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> HTTPPolicy[Any, Any]:
    """jitpim's retry rules as an azure-core policy, for Microsoft's own clients
    (e.g. `SecretClient(..., retry_policy=retry_policy())`), so every client retries the same way."""
    from ._pipeline import JitRetryPolicy

    return JitRetryPolicy(settings or RetrySettings(), sleep=sleep or default_sleep, on_retry=on_retry)
