"""The five attacks on the evidence that used to pass `jitpim audit verify`, each as an attacker with write
access to the ledger (its file and directory) would run it, checked through the CLI a security team uses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.audit import Ledger
from jitpim.audit.canonical import canonical_json, chain_hash
from jitpim.audit.events import event_material
from jitpim.audit.signing import KEY_FILENAME, Signer
from jitpim.cli import cli
from jitpim.errors import ConfigError

REPO = "contoso/payments"


def _lease(lease_id: str, run_id: str) -> dict[str, Any]:
    return {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "rbac",
        "role": "Key Vault Secrets Officer",
        "scope": "/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg-payments",
        "principal_id": "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
        "mode": "direct",
        "justification": "deploy release 42",
        "run": {"repository": REPO, "run_id": run_id, "run_attempt": 1},
    }


def _job(env: dict[str, str], run_id: str, *, release: bool = True) -> str:
    """One CI job: a lease granted, used and (unless `release=False`) released, then finalized into the run
    file `runs/gh-RUN-1.jsonl` the job uploads (summaries, signed checkpoint, sinks)."""
    lease_id = f"gh-{run_id}-1/rbac/kv-officer"
    with Ledger(env["JITPIM_LEDGER"]) as ledger:
        ledger.begin(_lease(lease_id, run_id))
        ledger.transition(lease_id, "granted", "lease.granted", {"grant": {"status": "active"}}, request_ids={"a": "1"})
        ledger.append_event(lease_id, "command.finished", {"exit_code": 0, "signal": None})
        if release:
            ledger.transition(lease_id, "releasing", "lease.releasing", {})
            ledger.transition(lease_id, "released", "lease.released", {"outcome": "released"}, outcome="released")
    if release:
        run_file = str(_run_file(env, run_id))
        done = _cli(env, "audit", "finalize", "--run-id", run_id, "--run-file", run_file, "--no-deliver")
        assert done.exit_code == 0, done.output
    return lease_id


def _run_file(env: dict[str, str], run_id: str) -> Path:
    return Path(env["JITPIM_LEDGER"]).parent / "runs" / f"gh-{run_id}-1.jsonl"


def _cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture(name="env")
def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        "JITPIM_LEDGER": str(tmp_path / "state" / "ledger.sqlite3"),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
    }
    public = tmp_path / "pinned.pub"  # what the security team pinned when the ledger was set up
    public.write_text(_cli(env, "audit", "public-key").stdout)
    env["JITPIM_PUBLIC_KEY"] = str(public)
    return env


def _raw(path: str) -> sqlite3.Connection:
    """The attacker's view: plain SQL on the file, the append-only triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    for trigger in ("events_append_only_update", "events_append_only_delete", "events_signature_once"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    return conn


def _verify(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "verify", *args, "-o", "json"], env=env, catch_exceptions=False)


def test_a_cut_off_tail_with_the_chain_head_moved_back_fails_against_the_last_checkpoint(env: dict[str, str]) -> None:
    _job(env, "101")
    _job(env, "102")
    assert _verify(env).exit_code == 0
    with _raw(env["JITPIM_LEDGER"]) as raw:
        # Cut off everything of run 102 (its lease, summary and checkpoint) and move the head to the new tail.
        first = raw.execute("SELECT MIN(seq) FROM events WHERE lease_id LIKE 'gh-102-%'").fetchone()[0]
        raw.execute("DELETE FROM events WHERE seq >= ?", (first,))
        raw.execute("DELETE FROM leases WHERE lease_id LIKE 'gh-102-%'")
        seq, digest = raw.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        raw.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
    # The cut chain is internally consistent: only the checkpoint the job shipped gives it away.
    assert _verify(env).exit_code == 0
    result = _verify(env, "--checkpoint", str(_run_file(env, "102")))
    assert result.exit_code == 83, result.output
    problem = json.loads(result.stdout)["problem"]
    assert problem["kind"] == "truncated" and f"ends at seq {seq}" in problem["message"]
    # An older checkpoint (run 101's) still holds: the ledger was intact up to it.
    assert _verify(env, "--checkpoint", str(_run_file(env, "101"))).exit_code == 0


def _rewrite(env: dict[str, str], forger: Signer) -> None:
    """Rewrite every justification, re-chain every event and re-sign every summary and checkpoint."""
    from jitpim.audit.checkpoints import checkpoint_material

    with _raw(env["JITPIM_LEDGER"]) as raw:
        rows = raw.execute("SELECT seq, lease_id, type, at, schema_version, body FROM events ORDER BY seq").fetchall()
        raw.execute("UPDATE events SET hash = 'tmp-' || seq")
        prev, origin = "0" * 64, None
        new_hashes: dict[int, str] = {}
        for seq, lease_id, event_type, at, version, text in rows:
            body = json.loads(text.replace("deploy release 42", "routine maintenance"))
            signature = None
            if event_type == "ledger.checkpoint":
                body = checkpoint_material(str(origin), seq - 1, prev, body["at"])
                signature = forger.sign_json(body).to_text()
            elif event_type == "lease.summary":
                body["events"] = [{**listed, "hash": new_hashes[listed["seq"]]} for listed in body["events"]]
                signature = forger.sign_json(body).to_text()
            material = event_material(
                seq=seq, lease_id=lease_id, event_type=event_type, at=at, schema_version=version, body=body
            )
            digest = chain_hash(prev, material)
            raw.execute(
                "UPDATE events SET body = ?, prev_hash = ?, hash = ?, signature = ? WHERE seq = ?",
                (canonical_json(body), prev, digest, signature, seq),
            )
            origin = origin or digest
            new_hashes[seq] = prev = digest
        raw.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (prev,))
        raw.execute("UPDATE leases SET justification = 'routine maintenance'")


def test_write_access_to_the_ledger_gives_no_key_to_re_sign_a_rewrite_with(env: dict[str, str]) -> None:
    _job(env, "201")
    ledger_dir = Path(env["JITPIM_LEDGER"]).parent
    # Nothing in the ledger's directory holds the private key.
    for path in ledger_dir.rglob("*"):
        assert not (path.is_file() and b"PRIVATE KEY" in path.read_bytes()), path
    key_file = Path(env["XDG_CONFIG_HOME"]) / "jitpim" / KEY_FILENAME
    assert key_file.is_file() and (key_file.stat().st_mode & 0o077) == 0
    # The attacker can only sign with a key of their own: the pinned key refuses it.
    forger = Signer.generate()
    _rewrite(env, forger)
    result = _verify(env)
    assert result.exit_code == 83, result.output
    problem = json.loads(result.stdout)["problem"]
    assert problem["kind"] == "signature" and forger.key_id in problem["message"]
    # A key planted beside the ledger is refused rather than used to sign new records.
    planted = ledger_dir / KEY_FILENAME
    planted.write_bytes(forger.private_pem())
    planted.chmod(0o600)
    with pytest.raises(ConfigError, match="ledger's directory"):
        from jitpim.audit.signing import load_signer

        load_signer(ledger_path=Path(env["JITPIM_LEDGER"]), environ={"JITPIM_SIGNING_KEY_FILE": str(planted)})


def test_an_edited_lease_row_is_detected_and_not_trusted_by_status_or_reap(env: dict[str, str]) -> None:
    lease_id = _job(env, "301", release=False)  # still granted: the reaper must see it
    with _raw(env["JITPIM_LEDGER"]) as raw:
        raw.execute(
            "UPDATE leases SET state = 'released', outcome = 'released', justification = 'approved by CAB' "
            "WHERE lease_id = ?",
            (lease_id,),
        )
    result = _verify(env, "--no-signatures")
    assert result.exit_code == 83, result.output
    problem = json.loads(result.stdout)["problem"]
    assert problem["kind"] == "row" and problem["lease_id"] == lease_id
    assert "state" in problem["message"] and "justification" in problem["message"]
    with Ledger(env["JITPIM_LEDGER"]) as ledger:
        # What status and reap read: the lease as the chain recorded it, still open.
        assert [lease["lease_id"] for lease in ledger.open_leases()] == [lease_id]
        assert [lease["lease_id"] for lease in ledger.list(state="granted")] == [lease_id]
        lease = ledger.get(lease_id)
        assert (lease["state"], lease["justification"]) == ("granted", "deploy release 42")
    status = _cli(env, "status", "-o", "json")
    assert status.exit_code == 0, status.output
    assert [row["lease_id"] for row in json.loads(status.stdout)["leases"]] == [lease_id]


def test_a_run_file_cannot_stand_in_for_another_run(env: dict[str, str], tmp_path: Path) -> None:
    _job(env, "401")
    _job(env, "402")
    first, second = _run_file(env, "401"), _run_file(env, "402")
    assert _verify(env, str(first), "--run", "gh-401-1").exit_code == 0
    assert _verify(env, str(second), "--run", "gh-402-1", "--repository", REPO).exit_code == 0
    # The files swapped (run 401's uploaded as run 402's artifact): bound to their own run, they say so.
    swapped = tmp_path / "gh-402-1.jsonl"
    swapped.write_bytes(first.read_bytes())
    result = _verify(env, str(swapped), "--run", "gh-402-1")
    assert result.exit_code == 83, result.output
    problem = json.loads(result.stdout)["problem"]
    assert problem["kind"] == "mismatch" and "run 401" in problem["message"] and "run 402" in problem["message"]
    assert _verify(env, str(first), "--run", "gh-401-1", "--repository", "contoso/web").exit_code == 83
    bad = _verify(env, str(first), "--run", "last-tuesday")
    assert bad.exit_code == 83 and "gh-RUNID-ATTEMPT" in bad.output


def test_a_replaced_key_and_a_re_signed_ledger_is_not_accepted_by_default(env: dict[str, str]) -> None:
    _job(env, "501")
    forger = Signer.generate()
    _rewrite(env, forger)
    # The attacker also replaced this machine's key with theirs, so the ledger checks out against it...
    key_file = Path(env["XDG_CONFIG_HOME"]) / "jitpim" / KEY_FILENAME
    key_file.write_bytes(forger.private_pem())
    unpinned = {name: value for name, value in env.items() if name != "JITPIM_PUBLIC_KEY"}
    default = _verify(unpinned)
    report = json.loads(default.stdout)
    # ...but a verification without a pinned key says so and does not exit 0.
    assert default.exit_code == 84, default.output
    assert report["ok"] is True and report["pinned"] is False and "no pinned public key" in report["notes"][-1]
    assert "no pinned public key" in _cli(unpinned, "audit", "verify").output
    # Against the key pinned when the ledger was set up, the rewrite fails.
    assert _verify(env).exit_code == 83


def test_the_checkpoint_goes_to_every_sink_and_what_a_sink_kept_catches_a_cut_tail(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A webhook receiver keeps what it was sent; that copy alone is enough to catch a later truncation."""
    import hashlib
    import hmac
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            mac = hmac.new(b"k" * 32, self.headers["X-Jitpim-Timestamp"].encode() + b"." + body, hashlib.sha256)
            assert hmac.compare_digest("sha256=" + mac.hexdigest(), self.headers["X-Jitpim-Signature"])
            received.extend(json.loads(body)["records"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    sinks = tmp_path / "sinks.json"
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    sinks.write_text(
        json.dumps({"audit": {"sinks": [{"name": "soc", "type": "webhook", "url": url, "secret_env": "K"}]}})
    )
    job_env = {**env, "JITPIM_SINKS": str(sinks), "K": "k" * 32}
    try:
        lease_id = _job(env, "601", release=True)
        done = _cli(job_env, "audit", "finalize", lease_id, "--sinks", str(sinks))
        assert done.exit_code == 0, done.output
    finally:
        server.shutdown()
        server.server_close()
    kinds = [record.get("record_type") for record in received]
    assert kinds == ["jitpim.lease.summary", "jitpim.checkpoint"], kinds
    kept = tmp_path / "soc-archive.jsonl"
    kept.write_text("".join(json.dumps(record) + "\n" for record in received))
    assert _verify(env, "--checkpoint", str(kept)).exit_code == 0
    with _raw(env["JITPIM_LEDGER"]) as raw:
        raw.execute("DELETE FROM events WHERE seq >= (SELECT MAX(seq) FROM events WHERE type = 'lease.summary')")
        seq, digest = raw.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        raw.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
    result = _verify(env, "--checkpoint", str(kept))
    assert result.exit_code == 83 and json.loads(result.stdout)["problem"]["kind"] == "truncated", result.output
