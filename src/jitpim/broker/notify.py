"""Telling people: Teams and Slack incoming webhooks, and a generic webhook signed with HMAC-SHA256.

The generic webhook's body is the event as JSON; `X-Jitpim-Timestamp` is the Unix time and
`X-Jitpim-Signature` is `sha256=` + hex(HMAC-SHA256(secret, timestamp + "." + body)), so a receiver can
check both origin and freshness. Deliveries run on a background thread and never block or fail a
decision; a failure is logged with the target's type only (a webhook URL is a secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .config import NotificationTarget

__all__ = ["Notifier", "render", "sign"]

_log = logging.getLogger("jitpim.broker")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def _summary(event: dict[str, Any]) -> str:
    request = event.get("request") or {}
    target = request.get("target") or {}
    decision = request.get("decision") or {}
    loud = "BREAK-GLASS " if event.get("type") == "request.break_glass" else ""
    return (
        f"{loud}jitpim {event.get('type')}: {request.get('repository')} asks for {target.get('role')} on "
        f"{target.get('scope')} ({target.get('kind')}) for {target.get('duration')}; decision "
        f"{decision.get('outcome')} by policy {decision.get('policy_id')}; request {request.get('request_id')}"
    )


def render(target: NotificationTarget, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers each kind of webhook expects."""
    headers = {"Content-Type": "application/json"}
    if target.type == "slack":
        body = json.dumps({"text": _summary(event)}).encode()
    elif target.type == "teams":
        body = json.dumps(
            {
                "type": "message",
                "attachments": [
                    {
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "content": {
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": [{"type": "TextBlock", "text": _summary(event), "wrap": True}],
                        },
                    }
                ],
            }
        ).encode()
    else:
        body = json.dumps(event, sort_keys=True, default=str).encode()
        stamp = str(int(time.time()))
        headers["X-Jitpim-Timestamp"] = stamp
        headers["X-Jitpim-Signature"] = sign(target.secret or "", stamp, body)
    return body, headers


class Notifier:
    def __init__(self, targets: Sequence[NotificationTarget], *, ca_bundle: str | None = None) -> None:
        self.targets = tuple(targets)
        self.ca_bundle = ca_bundle
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jitpim-notify") if targets else None
        self.failures = 0

    def _send(self, target: NotificationTarget, event: dict[str, Any]) -> None:
        import requests

        body, headers = render(target, event)
        try:
            response = requests.post(target.url, data=body, headers=headers, timeout=10, verify=self.ca_bundle or True)
            if response.status_code >= 300:
                raise requests.HTTPError(f"status {response.status_code}")
        except requests.RequestException as exc:
            self.failures += 1
            _log.warning("notification to a %s webhook failed: %s", target.type, type(exc).__name__)

    def notify(self, event: dict[str, Any]) -> list[Future[None]]:
        if self._pool is None:
            return []
        return [self._pool.submit(self._send, target, event) for target in self.targets]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
