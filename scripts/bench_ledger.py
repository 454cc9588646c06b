"""Audit ledger benchmark (run on demand, not a test): append N events for N/10 leases through the real
ledger API (each lease: requested, approval requested, approved, effective, secret rotated, command finished,
releasing, release retried, released, and its signed summary), then verify the whole chain and every
signature; for SQLite and, when a DSN is given, PostgreSQL.

    .venv/bin/python scripts/bench_ledger.py [--events 100000] [--pg postgresql://...] [--dir PATH]

Appends are durable one by one (SQLite WAL with synchronous=FULL; PostgreSQL with its default
synchronous_commit), exactly as the lifecycle writes them. Numbers go to docs/explanation/performance.md
("Audit ledger") by hand, with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jitpim.audit import Ledger
from jitpim.audit.signing import Signer
from jitpim.audit.summary import finalize_lease
from jitpim.audit.verify import trusted_keys, verify_store

EVENTS_PER_LEASE = 10


def _lease(n: int) -> dict[str, Any]:
    return {
        "lease_id": f"gh-{9100200300 + n // 4}-1/entra-role/app-admin-{n}",
        "state": "requested",
        "kind": "entra-role",
        "role": "Application Administrator",
        "role_id": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "scope": "/",
        "principal_id": "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
        "tenant_id": "5f0c9a2e-3c4b-4d8e-9f1a-2b3c4d5e6f70",
        "mode": "direct",
        "requested_duration_s": 1800,
        "granted_duration_s": 1800,
        "request_ids": {"request_name": f"0c8b1b3e-4a39-4d43-9d9e-{n:012d}"},
        "justification": "rotate the payments database password",
        "ticket": "ServiceNow:CHG0042",
        "run": {
            "repository": "contoso/payments",
            "ref": "refs/heads/main",
            "sha": "3f786850e387550fdab836ed7e6dc881de23001b",
            "workflow": "rotate-secrets",
            "run_id": str(9100200300 + n // 4),
            "run_attempt": 1,
            "actor": "octocat",
        },
        "release_strategy": "wait",
        "data": {"resolved": {"scope_name": "/ (tenant)"}},
    }


DETAILS = {
    "decision": {
        "allowed": True,
        "duration": "PT30M",
        "requested_duration": "PT30M",
        "reasons": [],
        "policy_source": "p",
    },
    "policy": {"max_duration": "PT8H", "require_justification": True, "source": "Directory_policy"},
}


def _grant(n: int, status: str) -> dict[str, Any]:
    return {"kind": "entra-role", "status": status, "request_id": f"a6f1e0c4-6a1b-4a79-a0a5-{n:012d}", "reused": False}


def _lifecycle(ledger: Any, n: int) -> str:
    lid = str(_lease(n)["lease_id"])
    ledger.begin(_lease(n), details=DETAILS)
    ledger.transition(
        lid,
        "pending_approval",
        "lease.approval_requested",
        {"grant": _grant(n, "pending_approval")},
        request_ids={"request_id": f"a6f1e0c4-6a1b-4a79-a0a5-{n:012d}"},
    )
    ledger.transition(lid, "granted", "lease.approved", {"grant": _grant(n, "active")})
    ledger.transition(lid, "effective", "lease.effective", {"waited_s": 3.2})
    ledger.append_event(
        lid,
        "secret.rotated",
        {
            "vault": "kv-payments",
            "secret_name": "db-password",
            "version_id": f"{n:032x}",
            "previous_version_id": f"{n + 1:032x}",
        },
    )
    ledger.append_event(lid, "command.finished", {"exit_code": 0, "signal": None})
    ledger.transition(lid, "releasing", "lease.releasing", {})
    ledger.transition(lid, "releasing", "lease.release_retried", {"strategy": "waited_for_minimum_window"})
    ledger.transition(lid, "released", "lease.released", {"outcome": "released"}, outcome="released", exit_code=0)
    return lid


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench(name: str, open_store: Callable[[], Any], events: int) -> dict[str, Any]:
    leases = events // EVENTS_PER_LEASE
    signer = Signer.generate()
    with open_store() as store:
        lifecycle_s = 0.0
        finalize_s = 0.0
        for n in range(leases):
            spent, lid = _timed(lambda n=n: _lifecycle(store, n))
            lifecycle_s += spent
            spent, _ = _timed(lambda lid=lid: finalize_lease(store, lid, signer))
            finalize_s += spent
            if n and n % 1000 == 0:
                print(f"  {name}: {n * EVENTS_PER_LEASE} events appended", file=sys.stderr)
        keys = trusted_keys([signer.public])
        full_s, report = _timed(lambda: verify_store(store, keys=keys))
        chain_s, chain = _timed(lambda: verify_store(store, keys=None))
        legacy_s, legacy = _timed(store.verify_chain)
    assert report.ok and chain.ok and legacy.ok, (report.to_json(), chain.to_json(), legacy)
    assert report.checked == events and report.signatures == leases
    sign_only = signer.sign(b"x" * 2000)
    sig_s, _ = _timed(lambda: [signer.public.verify(sign_only, b"x" * 2000) for _ in range(leases)])
    return {
        "backend": name,
        "events": events,
        "leases": leases,
        "append_events_per_s": round((events - leases) / lifecycle_s),
        "finalize_per_s": round(leases / finalize_s),
        "ledger_ms_per_lease": round((lifecycle_s + finalize_s) / leases * 1000, 2),
        "verify_full_s": round(full_s, 3),
        "verify_full_events_per_s": round(events / full_s),
        "verify_chain_only_s": round(chain_s, 3),
        "verify_signatures_per_s": round(leases / sig_s),
        "ledger_verify_chain_s": round(legacy_s, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("JITPIM_TEST_PG_DSN"), help="PostgreSQL DSN (optional)")
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite ledger is created")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results.append(bench("sqlite", lambda: Ledger(Path(tmp) / "bench.sqlite3"), args.events))
    if args.pg:
        import psycopg

        from jitpim.audit.postgres import PostgresLedger

        schema = f"jitpim_bench_{os.getpid()}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in args.pg else "?"
        dsn = f"{args.pg}{separator}options=-csearch_path%3D{schema}"
        try:
            results.append(bench("postgresql", lambda: PostgresLedger(dsn), args.events))
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    columns = list(results[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
