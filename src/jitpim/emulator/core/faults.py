"""Fault injection: throttling, server errors, latency, and changes whose response is lost.

A rule matches a request by method and a regular expression searched in the path, and fires `count`
times. `lost_response` lets the handler run (the change is committed) and then answers the client with a
gateway error instead, which is what a dropped connection or a timed-out proxy looks like to a client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import AadError, ApiError, ArmError, GraphError, KeyVaultError

__all__ = ["FaultInjector", "FaultRule", "style_for_path"]

KINDS = ("throttle", "error", "latency", "lost_response")
_ids = itertools.count(1)


@dataclass
class FaultRule:
    kind: str
    path: str = ""
    method: str | None = None
    count: int = 1
    status: int | None = None
    retry_after: int = 1
    latency_ms: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.count < 1 or self.count > 10_000:
            raise ValueError("fault count must be between 1 and 10000")
        if self.latency_ms < 0 or self.latency_ms > 60_000:
            raise ValueError("latency_ms must be between 0 and 60000")
        if self.retry_after < 0 or self.retry_after > 86_400:
            raise ValueError("retry_after must be between 0 and 86400 seconds")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.fired >= self.count:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["remaining"] = self.count - self.fired
        return data


def style_for_path(path: str, is_vault: bool) -> type[ApiError]:
    if is_vault:
        return KeyVaultError
    if path.startswith("/graph/"):
        return GraphError
    if "/oauth2/" in path:
        return AadError
    return ArmError


class FaultInjector:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        if path.startswith("/_emulator"):
            return None
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.fired += 1
                    return rule
        return None


def _error_body(style: type[ApiError], status: int, code: str, message: str) -> bytes:
    if style is AadError:
        err: ApiError = AadError(status, "temporarily_unavailable", 90033, message)
    else:
        err = style(status, code, message)
    return err.render("00000000-0000-0000-0000-000000000000")


class FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector, is_vault_port: Any) -> None:
        self.app = app
        self.injector = injector
        self.is_vault_port = is_vault_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.injector.take(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        style = style_for_path(scope["path"], self.is_vault_port(scope))
        if rule.kind == "latency":
            await asyncio.sleep(rule.latency_ms / 1000)
            await self.app(scope, receive, send)
            return
        if rule.kind == "lost_response":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _send(
                send,
                rule.status or 504,
                _error_body(
                    style, rule.status or 504, "GatewayTimeout", "The gateway did not receive a response in time."
                ),
                {},
            )
            return
        if rule.kind == "throttle":
            status = rule.status or 429
            code = "TooManyRequests" if style is not KeyVaultError else "Throttled"
            body = _error_body(style, status, code, "Too many requests. Please try again later.")
            await _send(send, status, body, {"Retry-After": str(rule.retry_after)})
            return
        status = rule.status or 503
        body = _error_body(
            style,
            status,
            "ServiceUnavailable" if status == 503 else "InternalServerError",
            "The service is temporarily unavailable (injected fault).",
        )
        await _send(send, status, body, {})


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw_headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def parse_rule(data: dict[str, Any]) -> FaultRule:
    allowed = {"kind", "path", "method", "count", "status", "retry_after", "latency_ms"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})")
    for name in ("count", "retry_after", "latency_ms", "status"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"'{name}' must be an integer, not {value!r}")
    for name in ("kind", "path", "method"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{name}' must be a string, not {value!r}")
    return FaultRule(**data)


def dumps(rules: list[FaultRule]) -> str:
    return json.dumps([r.to_json() for r in rules])
