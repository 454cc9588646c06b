"""Sinks against real local receivers: an HTTP server checking the webhook HMAC, a Splunk-HEC-like collector,
syslog listeners over UDP and TCP, and the emulated Azure Monitor Logs Ingestion endpoint through Microsoft's
own client. A failing sink keeps the record in the outbox and `flush` delivers it later."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.audit import Ledger
from jitpim.audit.canonical import canonical_json
from jitpim.audit.outbox import Outbox
from jitpim.audit.signing import Signer
from jitpim.audit.sinks import SinksConfig, deliver, flush, load_sinks_config
from jitpim.audit.summary import finalize_lease, signed_body
from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario
from jitpim.errors import AuditSinkError, ConfigError

KEY = "webhook-shared-key-for-tests"
HEC_TOKEN = "11111111-2222-3333-4444-555555555555"


def _records(path: Path, signer: Signer, count: int = 2) -> list[dict[str, Any]]:
    out = []
    with Ledger(path) as ledger:
        for n in range(count):
            lid = f"gh-1-1/rbac/sink-{n}"
            ledger.begin(
                {
                    "lease_id": lid,
                    "state": "requested",
                    "kind": "rbac",
                    "role": "Reader",
                    "mode": "direct",
                    "scope": "/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516",
                    "principal_id": "p-1",
                    "run": {"repository": "contoso/payments", "run_id": "1", "run_attempt": 1},
                }
            )
            outcome = "release_failed" if n == 1 else "released"
            ledger.transition(lid, "granted", "lease.granted", {})
            ledger.transition(lid, "releasing", "lease.releasing", {})
            ledger.transition(
                lid,
                outcome,
                "lease.released" if n == 0 else "lease.release_failed",
                {"outcome": "released"} if n == 0 else {"detail": "403"},
                outcome=outcome,
            )
            out.append(finalize_lease(ledger, lid, signer))
    return out


class _Receiver:
    """A threaded HTTP server on loopback: `handle(handler, body) -> (status, body)` decides each answer."""

    def __init__(self, handle: Any) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(self, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.handle = handle
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Webhook:
    """Checks the HMAC exactly as a receiver must: over `<timestamp>.<raw body>`, constant-time, fresh."""

    def __init__(self, fail_first: int = 0, always: int | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.deliveries: list[str] = []
        self.rejected = 0
        self.fail_first = fail_first
        self.always = always

    def __call__(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        timestamp = handler.headers["X-Jitpim-Timestamp"]
        expected = "sha256=" + hmac.new(KEY.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if (
            not hmac.compare_digest(expected, handler.headers["X-Jitpim-Signature"])
            or abs(time.time() - int(timestamp)) > 300
        ):
            self.rejected += 1
            return 401, {"error": "bad signature"}
        self.deliveries.append(handler.headers["X-Jitpim-Delivery"])
        if self.always is not None:
            return self.always, {"error": "down"}
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503, {"error": "busy"}
        payload = json.loads(body)
        assert payload["type"] == "jitpim.audit.records"
        self.received.extend(payload["records"])
        return 200, {"ok": True}


@pytest.fixture(name="signer")
def _signer() -> Signer:
    return Signer.generate()


@pytest.fixture(name="environ")
def _environ() -> dict[str, str]:
    return {"HOOK_KEY": KEY, "HEC_TOKEN": HEC_TOKEN}


def _config(*sinks: dict[str, Any]) -> SinksConfig:
    return SinksConfig.from_mapping({"audit": {"sinks": list(sinks)}}, "test")


def test_webhook_body_is_hmac_signed_and_retried(tmp_path: Path, signer: Signer, environ: dict[str, str]) -> None:
    hook = _Webhook(fail_first=2)
    server = _Receiver(hook)
    slept: list[float] = []
    try:
        records = _records(tmp_path / "l.sqlite3", signer)
        config = _config({"name": "soc", "type": "webhook", "url": server.url + "/hook", "secret_env": "HOOK_KEY"})
        report = deliver(records, config, environ=environ, sleep=slept.append)
    finally:
        server.close()
    assert report.ok, report.to_json()
    assert slept == [1.0, 2.0]  # exponential backoff between the three attempts
    assert len(set(hook.deliveries)) == 1 and len(hook.deliveries) == 3  # one delivery id across retries
    assert hook.rejected == 0
    assert [r["lease_id"] for r in hook.received] == [r["lease_id"] for r in records]
    for record in hook.received:
        assert signer.public.verify(_signature(record), canonical_json(signed_body(record)).encode())


def _signature(record: dict[str, Any]) -> Any:
    from jitpim.audit.signing import Signature

    return Signature.from_json(record["signature"])


def test_webhook_with_the_wrong_key_is_refused_and_reported(tmp_path: Path, signer: Signer) -> None:
    hook = _Webhook()
    server = _Receiver(hook)
    try:
        config = _config({"name": "soc", "type": "webhook", "url": server.url, "secret_env": "HOOK_KEY"})
        report = deliver(
            _records(tmp_path / "l.sqlite3", signer), config, environ={"HOOK_KEY": "wrong"}, sleep=lambda s: None
        )
    finally:
        server.close()
    assert not report.ok and hook.rejected == 1 and not hook.received
    assert report.results[0].error is not None and "401" in report.results[0].error
    assert "wrong" not in json.dumps(report.to_json())


def _hec(token_seen: list[str], events: list[dict[str, Any]]) -> Any:
    def handle(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        token_seen.append(handler.headers.get("Authorization", ""))
        if handler.path != "/services/collector/event":
            return 404, {"text": "The requested URL was not found on this server.", "code": 404}
        if handler.headers.get("Authorization") != f"Splunk {HEC_TOKEN}":
            return 403, {"text": "Invalid token", "code": 4}
        decoder, text, position = json.JSONDecoder(), body.decode(), 0
        while position < len(text):
            event, position = decoder.raw_decode(text, position)
            if not {"event", "time", "sourcetype", "source", "host"} <= set(event):
                return 400, {"text": "Event field is required", "code": 12}
            events.append(event)
        return 200, {"text": "Success", "code": 0}

    return handle


def test_splunk_hec_batches_events_with_the_token(tmp_path: Path, signer: Signer, environ: dict[str, str]) -> None:
    tokens: list[str] = []
    events: list[dict[str, Any]] = []
    server = _Receiver(_hec(tokens, events))
    try:
        records = _records(tmp_path / "l.sqlite3", signer)
        config = _config(
            {"name": "splunk", "type": "splunk", "url": server.url, "token_env": "HEC_TOKEN", "index": "security"}
        )
        report = deliver(records, config, environ=environ)
        refused = deliver(records, config, environ={"HEC_TOKEN": "not-the-token"}, sleep=lambda s: None)
    finally:
        server.close()
    assert report.ok, report.to_json()
    assert len(tokens) == 2  # one batched request, then the refused one
    assert [e["event"]["lease_id"] for e in events] == [r["lease_id"] for r in records]
    assert {e["sourcetype"] for e in events} == {"jitpim:audit"} and {e["index"] for e in events} == {"security"}
    assert events[0]["time"] > 1_600_000_000
    assert not refused.ok and "403 (Invalid token, code 4)" in (refused.results[0].error or "")


_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+) "
    r"(?P<sd>\[(?:[^\]\\]|\\.)*\]) \ufeff(?P<msg>.*)$",
    re.DOTALL,
)


def _parse_syslog(message: bytes) -> dict[str, Any]:
    match = _RFC5424.match(message.decode("utf-8"))
    assert match, message[:200]
    parsed = match.groupdict()
    parsed["record"] = json.loads(parsed.pop("msg"))
    return parsed


def _listen(protocol: str) -> tuple[socket.socket, list[bytes], threading.Thread]:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    received: list[bytes] = []

    def serve() -> None:
        if protocol == "udp":
            for _ in range(2):
                received.append(sock.recvfrom(65535)[0])
            return
        sock.listen(1)
        conn, _ = sock.accept()
        buffer = b""
        with conn:
            conn.settimeout(10)
            while len(received) < 2:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b" " in buffer:  # RFC 6587 octet counting: "LEN SP MSG"
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    received.append(rest[: int(length)])
                    buffer = rest[int(length) :]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock, received, thread


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_syslog_rfc5424_over_udp_and_tcp(tmp_path: Path, signer: Signer, protocol: str) -> None:
    sock, received, thread = _listen(protocol)
    try:
        records = _records(tmp_path / "l.sqlite3", signer)
        config = _config(
            {
                "name": "siem",
                "type": "syslog",
                "host": "127.0.0.1",
                "port": sock.getsockname()[1],
                "protocol": protocol,
                "facility": "authpriv",
                "hostname": "runner-7",
            }
        )
        report = deliver(records, config)
        thread.join(timeout=10)
    finally:
        sock.close()
    assert report.ok, report.to_json()
    parsed = [_parse_syslog(m) for m in received]
    assert [int(p["pri"]) for p in parsed] == [10 * 8 + 5, 10 * 8 + 3]  # notice; err for a failed release
    assert {p["host"] for p in parsed} == {"runner-7"} and {p["app"] for p in parsed} == {"jitpim"}
    assert {p["msgid"] for p in parsed} == {"jitpim.lease.summary"}
    assert f'lease_id="{records[0]["lease_id"]}"' in parsed[0]["sd"] and parsed[0]["sd"].startswith("[jitpim@32473 ")
    assert parsed[0]["ts"] == records[0]["ledger"]["at"]
    assert [p["record"] for p in parsed] == records


def test_a_failing_sink_keeps_the_record_and_flush_delivers_it(
    tmp_path: Path, signer: Signer, environ: dict[str, str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    records = _records(path, signer)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens on this port now: connection refused
    config = _config(
        {
            "name": "soc",
            "type": "webhook",
            "url": f"http://127.0.0.1:{port}/hook",
            "secret_env": "HOOK_KEY",
            "retries": 1,
        }
    )
    slept: list[float] = []
    with Ledger(path) as ledger:
        report = deliver(records, config, ledger=ledger, environ=environ, sleep=slept.append)
        assert not report.ok and slept == [1.0]
        result = report.results[0]
        assert (result.delivered, result.pending) == (0, 2) and "cannot reach" in (result.error or "")
        with pytest.raises(AuditSinkError):
            report.raise_for_failure()
        pending = Outbox(ledger).pending("soc")
        assert [e.record for e in pending] == records
        assert all(e.attempts == 1 and e.last_error for e in pending)

    # The receiver is back (at a new address: the outbox is keyed by sink name); flush delivers, exactly once.
    hook = _Webhook()
    handler_server = _Receiver(hook)
    try:
        moved = _config(
            {"name": "soc", "type": "webhook", "url": handler_server.url + "/hook", "secret_env": "HOOK_KEY"}
        )
        with Ledger(path) as ledger:
            again = flush(ledger, moved, environ=environ)
            assert again.ok and again.results[0].delivered == 2, again.to_json()
            assert flush(ledger, moved, environ=environ).results[0].delivered == 0
            assert Outbox(ledger).counts() == {"soc": {"delivered": 2, "pending": 0}}
            # Delivering the same records again does not queue them twice.
            assert deliver(records, moved, ledger=ledger, environ=environ).results[0].delivered == 0
    finally:
        handler_server.close()
    assert [r["lease_id"] for r in hook.received] == [r["lease_id"] for r in records]


def test_flush_command_exit_status_shows_failures(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "ledger.sqlite3"
    records = _records(path, signer, count=1)
    sinks_file = tmp_path / "sinks.yaml"
    sinks_file.write_text(
        "sinks:\n  - {name: soc, type: webhook, url: 'http://127.0.0.1:9/hook', secret_env: HOOK_KEY, retries: 0}\n"
    )
    env = {"JITPIM_LEDGER": str(path), "JITPIM_SINKS": str(sinks_file), "HOOK_KEY": KEY}
    with Ledger(path) as ledger:
        Outbox(ledger).add(["soc"], records)
    failed = CliRunner().invoke(cli, ["audit", "flush", "-o", "json"], env=env)
    assert failed.exit_code == 83, failed.output
    assert json.loads(failed.stdout)["sinks"][0]["pending"] == 1
    hook = _Webhook()
    server = _Receiver(hook)
    try:
        sinks_file.write_text(
            f"sinks:\n  - {{name: soc, type: webhook, url: '{server.url}/hook', secret_env: HOOK_KEY}}\n"
        )
        ok = CliRunner().invoke(cli, ["audit", "flush"], env=env)
    finally:
        server.close()
    assert ok.exit_code == 0, ok.output
    assert "1 delivered, 0 pending" in ok.output and len(hook.received) == 1


def test_a_sink_dropped_from_the_config_still_shows_its_queue(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "ledger.sqlite3"
    records = _records(path, signer, count=1)
    with Ledger(path) as ledger:
        Outbox(ledger).add(["old-sink"], records)
        report = flush(ledger, SinksConfig((), "none"))
    assert not report.ok and report.results[0].sink == "old-sink" and report.results[0].pending == 1


def test_sink_configuration_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secret"):
        SinksConfig.from_mapping({"sinks": [{"type": "webhook", "url": "https://x", "secret": "inline"}]}, "f")
    with pytest.raises(ConfigError, match="unknown sink type"):
        SinksConfig.from_mapping({"sinks": [{"type": "kafka"}]}, "f")
    with pytest.raises(ConfigError, match="used twice"):
        SinksConfig.from_mapping({"sinks": [{"type": "syslog", "host": "a"}, {"type": "syslog", "host": "b"}]}, "f")
    plain = _config({"name": "w", "type": "webhook", "url": "http://siem.example.net/hook", "secret_env": "K"})
    report = deliver([{"lease_id": "x"}], plain, environ={"K": "k"})
    assert not report.ok and "https" in (report.results[0].error or "")
    missing = _config({"name": "w", "type": "webhook", "url": "https://siem.example.net/hook", "secret_env": "NOPE"})
    assert "NOPE" in (deliver([{"lease_id": "x"}], missing, environ={}).results[0].error or "")
    access = tmp_path / "jitpim.yaml"
    access.write_text(
        "version: 1\nprofiles: {}\naudit:\n  sinks:\n    - {name: s, type: syslog, host: 127.0.0.1, enabled: true}\n"
        "    - {name: disabled, type: syslog, host: 127.0.0.1, enabled: false}\n"
    )
    loaded = load_sinks_config(access_file=access, environ={})
    assert loaded.names() == ["s"] and loaded.source == str(access)
    file = tmp_path / "sinks.json"
    file.write_text(json.dumps({"sinks": [{"name": "j", "type": "syslog", "host": "127.0.0.1", "protocol": "tcp"}]}))
    assert load_sinks_config(environ={"JITPIM_SINKS": str(file)}, access_file=access).names() == ["j"]
    assert load_sinks_config(environ={}).sinks == ()


# -- Azure Monitor Logs Ingestion, through azure-monitor-ingestion, against the emulator -----------------------


@pytest.fixture(name="monitor")
def _monitor(fresh_emu: Emulator, control: Any) -> Iterator[dict[str, Any]]:
    scenario = default_scenario()
    scenario["monitor"] = {
        "data_collection_rules": [
            {"name": "jitpim-audit", "streams": ["Custom-JitpimAudit_CL"], "publishers": ["ci-app"]}
        ]
    }
    control("scenario", scenario)
    info = fresh_emu.info
    rule = control("state", method="GET")["monitor"]["data_collection_rules"][0]
    yield {"info": info, "rule": rule, "emu": fresh_emu}


def _rows(control: Any) -> list[dict[str, Any]]:
    return control("state", method="GET")["monitor"]["ingested"]


def test_logs_ingestion_lands_rows_through_microsofts_client(
    tmp_path: Path, signer: Signer, monitor: dict[str, Any], control: Any
) -> None:
    from azure.identity import ClientSecretCredential

    info, rule = monitor["info"], monitor["rule"]
    ci = info["principals"]["ci-app"]
    records = _records(tmp_path / "l.sqlite3", signer)
    spec = {
        "name": "sentinel",
        "type": "logs_ingestion",
        "endpoint": info["authority"],
        "rule_id": rule["immutable_id"],
        "stream": "Custom-JitpimAudit_CL",
        "ca_bundle": info["ca_cert"],
    }
    credential = ClientSecretCredential(
        info["tenant_id"],
        ci["client_id"],
        ci["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )
    report = deliver(records, _config(spec), credential=credential)
    assert report.ok, report.to_json()
    rows = _rows(control)
    assert [r["row"]["LeaseId"] for r in rows] == [r["lease_id"] for r in records]
    assert {r["stream"] for r in rows} == {"Custom-JitpimAudit_CL"} and {r["caller"] for r in rows} == {ci["object_id"]}
    first = rows[0]["row"]
    assert first["Record"] == records[0] and first["KeyId"] == signer.key_id
    assert first["TimeGenerated"] == records[0]["ledger"]["at"] and first["Repository"] == "contoso/payments"

    # The same sink built from configuration alone: client secret named by an environment variable.
    configured = {
        **spec,
        "tenant_id": info["tenant_id"],
        "client_id": ci["client_id"],
        "client_secret_env": "CI_SECRET",
        "authority": info["authority"],
    }
    assert deliver(records[:1], _config(configured), environ={"CI_SECRET": ci["client_secret"]}).ok
    assert len(_rows(control)) == 3


def test_logs_ingestion_without_the_publisher_role_is_refused_and_kept(
    tmp_path: Path, signer: Signer, monitor: dict[str, Any], control: Any
) -> None:
    from azure.identity import ClientSecretCredential

    info, rule = monitor["info"], monitor["rule"]
    admin = info["principals"]["admin-app"]
    path = tmp_path / "ledger.sqlite3"
    records = _records(path, signer, count=1)
    spec = {
        "name": "sentinel",
        "type": "logs_ingestion",
        "endpoint": info["authority"],
        "rule_id": rule["immutable_id"],
        "stream": "Custom-JitpimAudit_CL",
        "ca_bundle": info["ca_cert"],
        "retries": 0,
    }
    credential = ClientSecretCredential(
        info["tenant_id"],
        admin["client_id"],
        admin["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )
    with Ledger(path) as ledger:
        report = deliver(records, _config(spec), ledger=ledger, credential=credential)
        assert not report.ok and "403 OperationFailed" in (report.results[0].error or ""), report.to_json()
        assert len(Outbox(ledger).pending("sentinel")) == 1
    assert _rows(control) == []


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        (
            "sinks.yaml",
            b"sinks:\n  - name: a\n    type: syslog\n    host: \xff\n",
            "sinks.yaml:4: byte 0xff is not UTF-8",
        ),
        ("sinks.json", b'{"sinks": "\xff"}', "byte 0xff is not UTF-8"),
        ("sinks.yaml", b"sinks:\n  - name: a\n    type: syslog\n    type: webhook\n", "duplicate key 'type'"),
        ("sinks.yaml", b"sinks: [\n", "sinks.yaml:2: not valid YAML"),
    ],
)
def test_a_broken_sinks_file_is_a_config_error(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    """JITPIM_SINKS naming a file that is not UTF-8, repeats a key or is not YAML: ConfigError (71), not a
    UnicodeDecodeError traceback, and a duplicated key never silently changes where the records go."""
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(ConfigError) as failure:
        load_sinks_config(environ={"JITPIM_SINKS": str(file)})
    assert needle in failure.value.message and failure.value.hint


def test_a_missing_optional_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI job installs only the extras it uses: a sink or ledger whose package is missing says which."""
    import importlib.util

    from jitpim.errors import ConfigError, require_extra

    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name.startswith(("azure.monitor", "psycopg")):
            return None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError) as monitor:
        require_extra("azure.monitor.ingestion", "monitor", "the logs_ingestion sink")
    assert "pip install 'jitpim[monitor]'" in (monitor.value.hint or "")
    from jitpim.audit.postgres import PostgresLedger

    with pytest.raises(ConfigError) as postgres:
        PostgresLedger("postgresql://jitpim@127.0.0.1:1/x")
    assert "psycopg" in postgres.value.message and "jitpim[postgres]" in (postgres.value.hint or "")
