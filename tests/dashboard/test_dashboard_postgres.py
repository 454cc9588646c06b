"""The dashboard over a PostgreSQL ledger: the same pages, filters, privilege-hours and signature checks as
on SQLite. The ledger holds the rows real `jitpim exec` runs wrote (copied byte for byte from the module's
SQLite ledger, so hashes and signatures carry over). Needs `JITPIM_TEST_PG_DSN` (`.ci/run` sets it)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

DSN = os.environ.get("JITPIM_TEST_PG_DSN")  # read at import: the autouse fixture clears JITPIM_* later
pytestmark = pytest.mark.skipif(not DSN, reason="JITPIM_TEST_PG_DSN is not set (no PostgreSQL server)")

_EVENT_COLUMNS = ("seq", "lease_id", "type", "at", "schema_version", "body", "prev_hash", "hash", "signature")


@pytest.fixture(name="pg_dsn")
def _pg_dsn() -> Iterator[str]:
    import psycopg

    assert DSN is not None
    schema = f"jitpim_d_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{DSN}{'&' if '?' in DSN else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _copy_to_postgres(sqlite_path: Any, store: Any) -> None:
    from jitpim.audit.records import LEASE_COLUMNS

    source = sqlite3.connect(sqlite_path)
    lease_columns = [c.name for c in LEASE_COLUMNS]
    leases = source.execute(f"SELECT {', '.join(lease_columns)} FROM leases").fetchall()
    events = source.execute(f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events ORDER BY seq").fetchall()
    head = source.execute("SELECT seq, hash FROM chain_head").fetchone()
    source.close()
    with store.write_transaction() as db:
        for row in leases:
            marks = ", ".join("?" for _ in lease_columns)
            db.execute(f"INSERT INTO leases ({', '.join(lease_columns)}) VALUES ({marks})", list(row))
        for row in events:
            db.execute(
                f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                list(row),
            )
        db.execute("UPDATE chain_head SET seq = ?, hash = ?", list(head))


def test_dashboard_reads_a_postgres_ledger(filled: Any, pg_dsn: str, serve: Any) -> None:
    from jitpim.audit.signing import load_signer
    from jitpim.audit.store import open_store
    from jitpim.dashboard import DashboardConfig

    signer = load_signer(ledger_path=filled.path, create=False)
    assert signer is not None
    store = open_store(pg_dsn)
    try:
        _copy_to_postgres(filled.path, store)
        url = serve(DashboardConfig(store=store, keys={signer.key_id: signer.public}, pinned=True))
        leases = requests.get(url + "/leases.json", timeout=10).json()["leases"]
        assert len(leases) == 4
        web = requests.get(url + "/leases.json", params={"repository": "contoso/web"}, timeout=10).json()["leases"]
        assert sorted(r["run"]["run_id"] for r in web) == ["7003", "7004"]
        by_run = requests.get(url + "/leases.json", params={"run": "gh-7001-1"}, timeout=10).json()["leases"]
        assert [r["run"]["run_id"] for r in by_run] == ["7001"]
        usage = requests.get(url + "/usage.json", params={"group": "repository"}, timeout=10).json()
        assert {u["key"] for u in usage["privilege_hours"]} == {"contoso/payments", "contoso/web"}
        assert all(u["hours"] > 0 for u in usage["privilege_hours"])
        problems = requests.get(url + "/problems.json", timeout=10).json()["problems"]
        assert [p["lease_id"].split("/")[0] for p in problems] == ["gh-7004-1"]
        lease_id = next(r["lease_id"] for r in by_run)
        lease = requests.get(url + "/leases/" + quote(lease_id, safe="") + ".json", timeout=10).json()
        assert lease["verification"]["ok"] is True, lease["verification"]
        assert requests.get(url + "/", timeout=10).status_code == 200
    finally:
        store.close()
