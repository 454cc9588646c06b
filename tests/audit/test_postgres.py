"""The ledger on a real PostgreSQL server: the same API and chain semantics as SQLite, append-only in the
database, tamper-evident, and intact under concurrent writers in many processes.

Needs `JITPIM_TEST_PG_DSN` (`.ci/run` starts a server and exports it); skipped cleanly without it. Each test
works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

# Read at import: the suite's autouse fixture clears JITPIM_* variables before each test runs.
DSN = os.environ.get("JITPIM_TEST_PG_DSN")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DSN, reason="JITPIM_TEST_PG_DSN is not set (no PostgreSQL server)"),
]

WORKERS = 6
LEASES_PER_WORKER = 8


def _schema_dsn(schema: str) -> str:
    assert DSN is not None
    separator = "&" if "?" in DSN else "?"
    return f"{DSN}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(name="dsn")
def _dsn() -> Iterator[str]:
    import psycopg

    schema = f"jitpim_t_{uuid.uuid4().hex[:12]}"
    assert DSN is not None
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _schema_dsn(schema)
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _row(lease_id: str, run_id: str = "9100200300") -> dict[str, Any]:
    return {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "rbac",
        "role": "Key Vault Secrets Officer",
        "role_id": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "scope": "/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg-payments",
        "principal_id": "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
        "mode": "direct",
        "justification": "rotate ✓",
        "request_ids": {"request_name": "n-1"},
        "run": {"repository": "contoso/payments", "run_id": run_id, "run_attempt": 1},
    }


def _lifecycle(ledger: Any, lease_id: str, run_id: str = "9100200300") -> None:
    ledger.begin(
        _row(lease_id, run_id), details={"decision": {"allowed": True, "reasons": []}, "policy": {"source": "p"}}
    )
    ledger.transition(
        lease_id,
        "granted",
        "lease.granted",
        {"grant": {"kind": "rbac", "status": "active", "request_id": "ra-1"}},
        request_ids={"request_name": "n-1", "request_id": "ra-1"},
    )
    ledger.transition(lease_id, "effective", "lease.effective", {"waited_s": 1})
    ledger.append_event(lease_id, "command.finished", {"exit_code": 0, "signal": None})
    ledger.transition(lease_id, "releasing", "lease.releasing", {})
    ledger.transition(lease_id, "released", "lease.released", {"outcome": "released"}, outcome="released")


def _timeless(body: dict[str, Any]) -> dict[str, Any]:
    """An event body without the row's time stamps (each backend writes its own)."""
    changes = body.get("lease_changes")
    if isinstance(changes, dict):
        return {**body, "lease_changes": {k: v for k, v in changes.items() if k != "updated_at"}}
    return body


def test_same_api_and_chain_as_sqlite(dsn: str, tmp_path: Path) -> None:
    from jitpim.audit import Ledger
    from jitpim.audit.postgres import PostgresLedger
    from jitpim.audit.schema import LATEST_VERSION
    from jitpim.audit.signing import Signer
    from jitpim.audit.store import open_store
    from jitpim.audit.summary import finalize_lease
    from jitpim.audit.verify import trusted_keys, verify_store
    from jitpim.errors import LeaseNotFoundError, LedgerError

    signer = Signer.generate()
    outputs = {}
    for name, store in (("pg", open_store(dsn)), ("sqlite", Ledger(tmp_path / "l.sqlite3"))):
        with store:
            _lifecycle(store, "run/rbac/a")
            _lifecycle(store, "other/rbac/b", run_id="777")
            record = finalize_lease(store, "run/rbac/a", signer)
            assert finalize_lease(store, "run/rbac/a", signer) == record
            assert [lease["lease_id"] for lease in store.list(run_id="9100200300")] == ["run/rbac/a"]
            assert [lease["lease_id"] for lease in store.list(active_only=True)] == []
            assert store.find("nope") is None
            with pytest.raises(LeaseNotFoundError):
                store.get("nope")
            with pytest.raises(LedgerError, match="already in the ledger"):
                store.begin(_row("run/rbac/a"))
            with pytest.raises(LedgerError, match="refusing to record"):
                store.append_event("run/rbac/a", "secret.rotated", {"secret_value": "hunter2"})
            assert store.verify_chain().ok
            report = verify_store(store, keys=trusted_keys([signer.public]))
            assert report.ok and report.checked == 13 and report.signatures == 1, report.to_json()
            # Summaries carry each backend's own timestamps; everything else must be identical.
            outputs[name] = [
                (e["seq"], e["type"], e["lease_id"], _timeless(e["body"]) if e["type"] != "lease.summary" else None)
                for e in store.events()
            ]
    assert outputs["pg"] == outputs["sqlite"]  # the same events, in the same chain positions
    with PostgresLedger(dsn) as pg:
        assert pg.schema_version == LATEST_VERSION
        assert pg.migrate() == LATEST_VERSION
        assert "jitpim:jitpim@" not in repr(pg) and "password" not in repr(pg)


def test_events_are_append_only_in_the_database_and_tampering_is_named(dsn: str) -> None:
    import psycopg

    from jitpim.audit.postgres import PostgresLedger
    from jitpim.audit.signing import Signer
    from jitpim.audit.summary import finalize_lease
    from jitpim.audit.verify import trusted_keys, verify_store

    signer = Signer.generate()
    with PostgresLedger(dsn) as ledger:
        _lifecycle(ledger, "run/rbac/a")
        finalize_lease(ledger, "run/rbac/a", signer)
    keys = trusted_keys([signer.public])
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("UPDATE events SET body = '{}' WHERE seq = 2")
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 2")
        with pytest.raises(psycopg.Error, match="cannot be replaced"):
            conn.execute("UPDATE events SET signature = 'x' WHERE type = 'lease.summary'")
        # Someone who owns the tables can switch the trigger off; verification still names the edit.
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        body = conn.execute("SELECT body FROM events WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE events SET body = %s WHERE seq = 3", (body.replace("1", "2"),))
    with PostgresLedger(dsn) as ledger:
        report = verify_store(ledger, keys=keys)
        assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("changed", 3)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE events SET body = %s WHERE seq = 3", (body,))
        conn.execute("DELETE FROM events WHERE seq = 4")
    with PostgresLedger(dsn) as ledger:
        report = verify_store(ledger, keys=keys)
        assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("deleted", 4)


def _worker(dsn: str, worker: int, barrier: Any) -> None:
    from jitpim.audit.postgres import PostgresLedger

    barrier.wait(timeout=60)
    with PostgresLedger(dsn) as ledger:
        for n in range(LEASES_PER_WORKER):
            _lifecycle(ledger, f"w{worker}/rbac/{n}")


def test_concurrent_writers_in_many_processes_keep_the_chain_intact(dsn: str) -> None:
    from jitpim.audit.postgres import PostgresLedger

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WORKERS)
    processes = [context.Process(target=_worker, args=(dsn, n, barrier)) for n in range(WORKERS)]
    started = time.monotonic()
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    assert time.monotonic() - started < 120
    with PostgresLedger(dsn) as ledger:
        events = ledger.events()
        assert ledger.verify_chain().ok
        assert [e["seq"] for e in events] == list(range(1, WORKERS * LEASES_PER_WORKER * 6 + 1))
        assert len(ledger.list()) == WORKERS * LEASES_PER_WORKER
        # Each lease's own events are in lifecycle order, whatever the interleaving with other writers.
        for n in range(WORKERS):
            types = [e["type"] for e in ledger.events(f"w{n}/rbac/0")]
            assert types[0] == "lease.requested" and types[-1] == "lease.released"


def _opener(dsn: str, barrier: Any) -> None:
    from jitpim.audit.postgres import PostgresLedger

    barrier.wait(timeout=60)
    PostgresLedger(dsn).close()


def test_many_processes_opening_a_fresh_database_migrate_it_once(dsn: str) -> None:
    import psycopg

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_opener, args=(dsn, barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 4
    with psycopg.connect(dsn) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    from jitpim.audit.schema import MIGRATIONS

    assert versions == [m.version for m in MIGRATIONS]


def test_cli_verifies_and_exports_a_postgres_ledger(dsn: str, tmp_path: Path) -> None:
    from jitpim.audit.postgres import PostgresLedger
    from jitpim.audit.signing import Signer
    from jitpim.audit.summary import finalize_lease
    from jitpim.cli import cli

    signer = Signer.generate()
    with PostgresLedger(dsn) as ledger:
        _lifecycle(ledger, "run/rbac/a")
        finalize_lease(ledger, "run/rbac/a", signer)
    public = tmp_path / "public.pem"
    public.write_text(signer.public.to_pem())
    env = {"JITPIM_LEDGER": dsn, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    verified = CliRunner().invoke(cli, ["audit", "verify", "--public-key", str(public), "-o", "json"], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["signatures"] == 1
    exported = CliRunner().invoke(cli, ["audit", "export", "--file", str(tmp_path / "x.jsonl")], env=env)
    assert exported.exit_code == 0, exported.output
    checked = CliRunner().invoke(
        cli, ["audit", "verify", str(tmp_path / "x.jsonl"), "--public-key", str(public)], env=env
    )
    assert checked.exit_code == 0, checked.output
