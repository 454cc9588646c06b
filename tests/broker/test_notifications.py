"""Break-glass and notifications: an emergency principal is granted at once, the record is marked for
review, and Slack, Teams and a signed generic webhook are told (loudly), over verified TLS."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitpim.broker import build_broker
from jitpim.broker.config import NotificationTarget
from jitpim.broker.notify import render, sign
from jitpim.emulator import Emulator
from jitpim.errors import ConfigError
from jitpim.testing import EmulatedClock

from .conftest import POLICIES, BrokerWorld, broker_config, broker_environ

GLASS = (
    POLICIES
    + """
@id("incident-break-glass")
@break_glass("true")
permit(principal, action == Jitpim::Action::"request", resource)
when { principal.environment == "incident" && context.break_glass };
"""
)


class Receiver:
    """An HTTPS endpoint (the emulator's CA signs its certificate) that keeps what it is sent."""

    def __init__(self, cert: Path, key: Path, expected: int) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.done = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()
                if len(outer.received) >= expected:
                    outer.done.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def by_path(self, path: str) -> tuple[dict[str, str], bytes]:
        return next((h, b) for p, h, b in self.received if p == path)


@pytest.fixture(name="receiver")
def _receiver(fresh_emu: Emulator) -> Iterator[Receiver]:
    receiver = Receiver(fresh_emu.tls.server_cert, fresh_emu.tls.server_key, expected=3)
    yield receiver
    receiver.server.shutdown()


def test_break_glass_is_granted_at_once_marked_and_announced(
    fresh_emu: Emulator, tmp_path: Path, receiver: Receiver
) -> None:
    info = fresh_emu.info
    env = {"SLACK": f"{receiver.url}/slack", "TEAMS": f"{receiver.url}/teams", "HOOK": f"{receiver.url}/hook"}
    env["HOOK_SECRET"] = "s3cret-for-hmac"
    config = broker_config(
        info,
        tmp_path,
        GLASS,
        environ=env,
        notifications=[
            {"type": "slack", "url_env": "SLACK"},
            {"type": "teams", "url_env": "TEAMS"},
            {"type": "webhook", "url_env": "HOOK", "secret_env": "HOOK_SECRET"},
        ],
    )
    broker = build_broker(config, environ=broker_environ(info), clock=EmulatedClock(fresh_emu), poll_initial=0.5)
    import requests

    from jitpim.broker import BrokerServer

    server = BrokerServer(broker, reaper_interval=0).start()
    try:
        bw = BrokerWorld(fresh_emu, broker, server, requests.Session())
        token = bw.job_token(environment="incident", ref="refs/heads/incident-fix")
        response = bw.http.post(
            f"{bw.url}/v1/requests",
            json={
                "client_request_id": "incident-1",
                "break_glass": True,
                "target": {
                    "kind": "rbac",
                    "role": "Key Vault Secrets Officer",
                    "scope": info["vaults"]["kv-payments"]["resource_id"],
                    "duration": "30m",
                    "justification": "INC-7 outage",
                },
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["decision"]["outcome"] == "break_glass"
        assert body["decision"]["policy_id"] == "incident-break-glass"
        assert body["review"] is True
        assert body["state"] == "permitted"
        assert receiver.done.wait(10), receiver.received
        _, slack = receiver.by_path("/slack")
        assert json.loads(slack)["text"].startswith("BREAK-GLASS jitpim request.break_glass: contoso/payments")
        _, teams = receiver.by_path("/teams")
        card = json.loads(teams)["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        headers, hook = receiver.by_path("/hook")
        stamp = headers["X-Jitpim-Timestamp"]
        expected = hmac.new(b"s3cret-for-hmac", stamp.encode() + b"." + hook, hashlib.sha256).hexdigest()
        assert headers["X-Jitpim-Signature"] == f"sha256={expected}"
        event = json.loads(hook)
        assert event["type"] == "request.break_glass"
        assert event["request"]["review"] is True
        assert "s3cret" not in hook.decode()
        broker.wait_idle()
        granted = broker.get(body["request_id"])
        assert granted.state.value == "granted" and granted.review
        broker._release(granted, "test done")
    finally:
        server.stop()
        broker.close()


def test_without_break_glass_flag_the_policy_does_not_apply(bw: BrokerWorld) -> None:
    token = bw.job_token(environment="incident")
    body = bw.submit(token, client_request_id="no-glass", role="Owner").json()
    assert body["state"] == "forbidden"
    assert body["review"] is False


def test_webhook_configuration_errors(fresh_emu: Emulator, tmp_path: Path) -> None:
    info = fresh_emu.info
    with pytest.raises(ConfigError, match="must not be written in the file"):
        broker_config(info, tmp_path, notifications=[{"type": "slack", "url": "https://hooks.example/x"}])
    with pytest.raises(ConfigError, match="HOOK is not set"):
        broker_config(info, tmp_path, notifications=[{"type": "slack", "url_env": "HOOK"}])
    with pytest.raises(ConfigError, match="https"):
        broker_config(info, tmp_path, environ={"H": "http://x"}, notifications=[{"type": "teams", "url_env": "H"}])
    with pytest.raises(ConfigError, match="needs a signing secret"):
        broker_config(info, tmp_path, environ={"H": "https://x"}, notifications=[{"type": "webhook", "url_env": "H"}])


def test_signature_helper_matches_rendering() -> None:
    target = NotificationTarget("webhook", "https://hooks.example/T0-url-secret", "zq-signing-secret")
    body, headers = render(target, {"type": "request.denied", "request": {"request_id": "r"}})
    assert headers["X-Jitpim-Signature"] == sign("zq-signing-secret", headers["X-Jitpim-Timestamp"], body)
    assert "zq-signing-secret" not in repr(target) and "T0-url-secret" not in repr(target)
