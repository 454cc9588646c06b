"""Talking to a broker: the CI side (`--mode broker`: submit, wait until granted, release) and approvers
(`jitpim approvals`). Every broker error code becomes the jitpim error with its documented exit code.

Each job call carries a fresh GitHub ID token for the broker's audience (the broker refuses a token it has
seen before). Release retries with backoff while the broker is unreachable; if it never answers, the
broker's reaper ends the grant at its end time, and the error says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import (
    ApprovalDeniedError,
    ApprovalError,
    ApprovalTimeoutError,
    AuthError,
    ConfigError,
    JitError,
    LeaseNotFoundError,
    PolicyDeniedError,
    ProviderError,
    UsageError,
)

__all__ = ["BrokerClient", "error_from"]

_NOT_GRANTED = {
    "forbidden": "the broker's policy forbids this request",
    "denied": "an approver denied the request",
    "timed_out": "no approver decided in time",
    "failed": "the broker could not grant the access",
    "released": "the request was cancelled",
    "expired": "the grant already expired",
}


def error_from(status: int, body: Any) -> JitError:
    """The jitpim error for a broker answer (`{"error": {"code", "message", "hint"}}`)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or status)
    message = f"broker: {error.get('message') or f'HTTP {status}'}"
    hint = error.get("hint") or None
    if status == 401:
        return AuthError(message, hint=hint)
    if status == 403:
        return PolicyDeniedError(message, rules=[code], hint=hint)
    if status == 404:
        return LeaseNotFoundError(message, hint=hint)
    if status == 409:
        return ApprovalError(message, hint=hint)
    if status in (400, 413):
        return UsageError(message, hint=hint)
    return ProviderError(message, hint=hint or "The broker failed; retry, or ask its operators to check its log.")


@dataclass
class BrokerClient:
    """`url` is the broker's base URL (https, or http on loopback); `token` gives a fresh bearer token per call."""

    url: str
    token: Callable[[], str] = field(repr=False)
    ca_bundle: str | None = None
    timeout: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        parts = urlsplit(self.url.strip())
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
        if parts.scheme not in ("https", "http") or not parts.netloc or (parts.scheme == "http" and not loopback):
            raise ConfigError(
                f"broker URL {self.url!r} must be https:// (http only on loopback)",
                hint="Give --broker-url / JITPIM_BROKER_URL as the broker's https URL.",
            )
        self.url = self.url.strip().rstrip("/")

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import requests

        try:
            response = requests.request(
                method,
                f"{self.url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=self.timeout,
                verify=self.ca_bundle or True,
            )
        except requests.RequestException as exc:
            raise ProviderError(
                f"cannot reach the broker at {self.url}: {type(exc).__name__}",
                hint="Check the broker URL and that it runs; its reaper ends any grant at its end time regardless.",
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise error_from(response.status_code, data)
        if not isinstance(data, dict):
            raise ProviderError(f"the broker answered {response.status_code} without a JSON object")
        return data

    # the job's side -----------------------------------------------------------------------------------------
    def submit(self, client_request_id: str, target: dict[str, Any], *, break_glass: bool = False) -> dict[str, Any]:
        body = {"client_request_id": client_request_id, "target": target, "break_glass": break_glass}
        return self._call("POST", "/v1/requests", body)

    def mine(self) -> list[dict[str, Any]]:
        """This job's own requests (the broker matches repository and run id from the token)."""
        return list(self._call("GET", "/v1/requests").get("value") or [])

    def get(self, request_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/requests/{quote(request_id, safe='')}")

    def wait_granted(
        self,
        request: dict[str, Any],
        *,
        timeout: float,
        on_wait: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Any]:
        """Poll until the request is granted; raise the matching error when it ends otherwise."""
        deadline = clock() + timeout
        delay = 1.0
        while True:
            state = str(request.get("state"))
            if state == "granted":
                return request
            if state in _NOT_GRANTED:
                decision = request.get("decision") or {}
                why = f"{_NOT_GRANTED[state]} ({decision.get('message') or state})"
                if state == "forbidden":
                    raise PolicyDeniedError(f"broker: {why}", rules=[str(decision.get("policy_id") or "default-deny")])
                if state == "denied":
                    raise ApprovalDeniedError(f"broker: {why}")
                if state == "timed_out":
                    raise ApprovalTimeoutError(f"broker: {why}")
                error = request.get("error") or {}
                raise ProviderError(f"broker: {why}: {error.get('message') or error.get('error') or ''}".rstrip(": "))
            if clock() >= deadline:
                raise ApprovalTimeoutError(
                    f"broker: request {request.get('request_id')} is still {state} after {timeout:.0f}s",
                    hint="Ask an approver (`jitpim approvals list`), or raise --approval-timeout.",
                )
            if on_wait is not None:
                on_wait(request)
            self.sleep(delay)
            delay = min(delay * 1.5, 10.0)
            request = self.get(str(request["request_id"]))

    def release(self, request_id: str, *, attempts: int = 6) -> dict[str, Any]:
        """Release, retrying while the broker is unreachable or still granting (backoff 1, 2, 4... s)."""
        delay = 1.0
        for attempt in range(1, attempts + 1):
            try:
                return self._call("POST", f"/v1/requests/{quote(request_id, safe='')}/release")
            except (ProviderError, ApprovalError) as exc:
                if attempt == attempts:
                    raise ProviderError(
                        f"{exc.message} (after {attempts} attempts)",
                        hint="The broker's reaper ends the grant at its end time even without this release.",
                    ) from None
                self.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    # approvers ------------------------------------------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/approvals").get("value") or [])

    def show(self, request_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/approvals/{quote(request_id, safe='')}")

    def decide(self, request_id: str, decision: str, reason: str) -> dict[str, Any]:
        body = {"decision": decision, "reason": reason}
        return self._call("POST", f"/v1/approvals/{quote(request_id, safe='')}", body)
