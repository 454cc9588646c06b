"""Dashboard benchmark (run on demand, not a test): server time of each page over a large SQLite ledger, and
the process's peak memory while serving them.

    .venv/bin/python scripts/bench_dashboard.py [--events 1000000] [--events-per-lease 10] [--repeat 5]

Builds a synthetic ledger (leases over 90 days, 8 repositories, 12 principals, 6 roles, a few failures),
then renders each page in-process through the ASGI app (no network, so the number is server time) and
prints the median and worst of `--repeat` renders. Target: the first page under 500 ms at 1M events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jitpim.audit.ledger import Ledger
from jitpim.audit.records import format_time

_TYPES = (
    "lease.requested",
    "lease.granted",
    "lease.effective",
    "command.finished",
    "lease.releasing",
    "lease.released",
    "lease.summary",
)


def build(path: Path, events: int, per_lease: int) -> int:
    with Ledger.open(path):
        pass  # the schema, at the current migration
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
    now = datetime.now(UTC)
    leases = events // per_lease
    lease_rows, event_rows = [], []
    seq = 0
    for i in range(leases):
        created = now - timedelta(days=90) + timedelta(seconds=i * (90 * 86400 / leases))
        failed = i % 97 == 0
        open_ = i >= leases - 5
        state = "failed" if failed else "effective" if open_ else "released"
        end = created + timedelta(minutes=15)
        lease_id = f"gh-{1000000 + i}-1/rbac/role-{i % 6}"
        run = json.dumps(
            {"repository": f"contoso/repo-{i % 8}", "run_id": str(1000000 + i), "run_attempt": 1},
            separators=(",", ":"),
            sort_keys=True,
        )
        lease_rows.append(
            (
                lease_id,
                state,
                "rbac",
                f"Role {i % 6}",
                f"/subscriptions/s/resourceGroups/rg-{i % 5}",
                f"principal-{i % 12}",
                "tenant",
                "direct",
                format_time(created),
                format_time(created + timedelta(minutes=(3 if not open_ else 0))),
                None if failed else format_time(created),
                format_time(end),
                run,
                "grant_failed" if failed else None,
            )
        )
        for k in range(per_lease):
            seq += 1
            kind = "lease.grant_failed" if failed and k == per_lease - 1 else _TYPES[k % len(_TYPES)]
            at = format_time(created + timedelta(seconds=k))
            event_rows.append((seq, lease_id, kind, at, 1, f'{{"n":{k}}}', f"{seq - 1:064x}", f"{seq:064x}", None))
    conn.executemany(
        "INSERT INTO leases (lease_id, state, kind, role, scope, principal_id, tenant_id, mode, created_at, "
        "updated_at, start_at, end_at, run, outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        lease_rows,
    )
    conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", event_rows)
    conn.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, f"{seq:064x}"))
    conn.commit()
    conn.close()
    return leases


async def _get(app: Any, path: str) -> tuple[int, int]:
    query = b""
    if "?" in path:
        path, q = path.split("?", 1)
        query = q.encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"bench")],
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("b", 1),
        "root_path": "",
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    size = sum(len(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")
    return status, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--events-per-lease", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from jitpim.audit.store import open_store
    from jitpim.dashboard import DashboardConfig, create_app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        t0 = time.perf_counter()
        # Built in a child process, so this process's peak memory is the dashboard's own.
        with ProcessPoolExecutor(max_workers=1) as pool:
            leases = pool.submit(build, path, args.events, args.events_per_lease).result()
        print(
            f"built {args.events} events, {leases} leases in {time.perf_counter() - t0:.1f} s "
            f"({path.stat().st_size / 2**20:.0f} MiB)"
        )
        store = open_store(str(path), read_only=True)
        app = create_app(DashboardConfig(store=store, keys={}, pinned=False))
        pages = [
            "/",
            "/leases",
            "/leases?page=50",
            "/leases?repository=contoso/repo-3",
            "/usage",
            "/usage?group=repository&since=2026-01-01",
            "/approvals",
            "/problems",
            "/leases.csv",
        ]
        for page in pages:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                status, size = asyncio.run(_get(app, page))
                times.append((time.perf_counter() - t) * 1000)
                assert status == 200, (page, status)
            print(f"{page:45s} median {statistics.median(times):7.1f} ms  worst {max(times):7.1f} ms  {size} bytes")
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the serving process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
