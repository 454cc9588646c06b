"""Audit at scale (run on demand with `make bench-audit`, not a test): append a million events through the real
ledger API the way jobs write them, then verify the whole ledger with `jitpim audit verify` in its own process,
measuring its wall time and peak resident memory.

    .venv/bin/python scripts/bench_audit.py [--events 1000000] [--pg DSN] [--pg-events N] [--dir PATH]

Each simulated job is one lease: nine lifecycle events (requested, approval requested, approved, effective,
secret rotated, command finished, releasing, release retried, released), its signed `lease.summary`, and the
signed checkpoint every command that ends leases writes: 11 events per job. Every append is its own durable
transaction (SQLite WAL with `synchronous=FULL`; PostgreSQL with its default `synchronous_commit=on`). The
append rate is reported per window of 100,000 events, so a rate that sags as the ledger grows shows.

Targets (issue 12): verify 1M events in under 10 s with under 100 MiB peak RSS; appends of at least 2,000
events/s sustained up to 1M events on SQLite; the same figures reported for PostgreSQL when a server is
available (`--pg`, else `$JITPIM_TEST_PG_DSN`; a schema of its own is created and dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ledger import _lifecycle  # the same realistic lease lifecycle as the ledger benchmark

from jitpim.audit import Ledger
from jitpim.audit.checkpoints import write_checkpoint
from jitpim.audit.signing import Signer
from jitpim.audit.summary import finalize_lease

EVENTS_PER_JOB = 11
WINDOW = 100_000


def _append(store: Any, signer: Signer, events: int, name: str) -> dict[str, Any]:
    """Append jobs until `events` events; the overall rate and the slowest 100k-event window."""
    jobs = events // EVENTS_PER_JOB
    started = window_start = time.perf_counter()
    window_events = 0
    windows: list[float] = []
    for n in range(jobs):
        lease_id = _lifecycle(store, n)
        finalize_lease(store, lease_id, signer)
        write_checkpoint(store, signer)
        window_events += EVENTS_PER_JOB
        if window_events >= WINDOW:
            now = time.perf_counter()
            windows.append(window_events / (now - window_start))
            print(f"  {name}: {(n + 1) * EVENTS_PER_JOB:>9,} events, {windows[-1]:,.0f} events/s", file=sys.stderr)
            window_start, window_events = now, 0
    total = time.perf_counter() - started
    appended = jobs * EVENTS_PER_JOB
    return {
        "events": appended,
        "append_events_per_s": round(appended / total),
        "slowest_window_events_per_s": round(min(windows)) if windows else round(appended / total),
        "last_window_events_per_s": round(windows[-1]) if windows else round(appended / total),
    }


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (verification forks a row checker), from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _verify(ledger: str, public_key: Path, *extra: str) -> dict[str, Any]:
    """`jitpim audit verify` in a child process: wall time, CPU time, and the peak RSS of its whole process
    tree (sampled every 20 ms; the kernel's own peak of the largest process is reported too)."""
    args = [sys.executable, "-m", "jitpim", "audit", "verify", "--ledger", ledger, "--public-key", str(public_key)]
    started = time.perf_counter()
    child = subprocess.Popen([*args, *extra, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_rss_kib(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    output = child.stdout.read()
    done.set()
    sampler.join()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    report = json.loads(output)
    assert report["ok"], report
    return {
        "verify_s": round(elapsed, 2),
        "verify_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "verify_peak_rss_mib": round(peak[0] / 1024, 1),
        "largest_process_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "report": report,
    }


def bench(name: str, open_store: Callable[[], Any], location: str, events: int, keys_dir: Path) -> dict[str, Any]:
    signer = Signer.generate()
    keys_dir.mkdir(parents=True, exist_ok=True)
    public = keys_dir / f"{name}.pub"
    public.write_text(signer.public.to_pem())
    with open_store() as store:
        appended = _append(store, signer, events, name)
    print(f"  {name}: verifying", file=sys.stderr)
    verified = _verify(location, public)
    report = verified.pop("report")
    assert report["checked"] == appended["events"], report
    return {
        "backend": name,
        **appended,
        **verified,
        "signatures_checked": report["signatures"],
        "covered_by_checkpoints": report["covered_by_checkpoints"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("JITPIM_TEST_PG_DSN"), help="PostgreSQL DSN (optional)")
    parser.add_argument("--pg-events", type=int, default=None, help="events for PostgreSQL [default: --events]")
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite ledger is created")
    parser.add_argument("--keep", type=Path, default=None, help="keep the SQLite ledger (and its .pub) here")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None, help="run one backend only")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp, tempfile.TemporaryDirectory() as keys:
        path = args.keep or Path(tmp) / "state" / "bench.sqlite3"
        if args.keep:
            keys = str(args.keep.parent)
        if args.only in (None, "sqlite"):
            results.append(bench("sqlite", lambda: Ledger(path), str(path), args.events, Path(keys)))
        if args.pg and args.only in (None, "postgresql"):
            import psycopg

            from jitpim.audit.postgres import PostgresLedger

            schema = f"jitpim_bench_{os.getpid()}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            separator = "&" if "?" in args.pg else "?"
            dsn = f"{args.pg}{separator}options=-csearch_path%3D{schema}"
            try:
                pg_events = args.pg_events or args.events
                results.append(bench("postgresql", lambda: PostgresLedger(dsn), dsn, pg_events, Path(keys)))
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
        elif args.only != "sqlite":
            print("  postgresql: skipped (no --pg and no $JITPIM_TEST_PG_DSN)", file=sys.stderr)
    columns = list(results[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
