"""After a command changes leases: sign each lease's summary record, write the run's evidence file (the
artifact a CI job uploads), and deliver the records to the configured sinks.

A sink that fails keeps its records in the ledger's outbox (`jitpim audit flush` retries them); the failure
shows in the output and, when nothing worse happened, in the exit status (83).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["Evidence", "record_evidence"]


class Evidence:
    def __init__(self, records: list[dict[str, Any]], run_file: Path | None, delivery: Any) -> None:
        self.records = records
        self.run_file = run_file
        self.delivery = delivery

    @property
    def sinks_failed(self) -> bool:
        return self.delivery is not None and not self.delivery.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "records": len(self.records),
            "run_file": str(self.run_file) if self.run_file else None,
            "sinks": self.delivery.to_json() if self.delivery is not None else None,
        }


def _run_file_path(rt: Any) -> Path:
    explicit = os.environ.get("JITPIM_AUDIT_FILE")
    if explicit:
        return Path(explicit)
    run_key = rt.run.run_key or "local"
    return Path(rt.ledger.path).parent / "runs" / f"{run_key}.jsonl"


def record_evidence(rt: Any, lease_ids: Sequence[str], *, quiet: bool = False) -> Evidence | None:
    from ..audit.sinks import deliver
    from ..audit.sinks.config import load_sinks_config
    from ..audit.summary import finalize_lease, signer_for, summary_records, write_run_file
    from ..lifecycle import find_access_file

    lease_ids = [lid for lid in dict.fromkeys(lease_ids) if rt.ledger.find(lid) is not None]
    if not lease_ids:
        return None
    signer = signer_for(rt.ledger)
    records = [finalize_lease(rt.ledger, lid, signer) for lid in lease_ids]
    # The run file holds every lease of this run so far (a job's several steps add up in one artifact).
    run_key = rt.run.run_key
    if run_key:
        run_ids = [r["lease_id"] for r in rt.ledger.list() if r["lease_id"].startswith(run_key + "/")]
        records_for_file = summary_records(rt.ledger, run_ids)
    else:
        records_for_file = records
    path = _run_file_path(rt)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_file = write_run_file(records_for_file, path, signer=signer)
    if rt.github.active:
        rt.github.set_output("audit-file", str(run_file))
    config = load_sinks_config(access_file=find_access_file(None, os.environ))
    delivery = deliver(records, config, ledger=rt.ledger) if config.sinks else None
    evidence = Evidence(records, run_file, delivery)
    if not quiet:
        click.echo(f"audit: {len(records)} signed record(s); evidence file {run_file}", err=True)
        if evidence.sinks_failed:
            click.echo("audit: some sinks failed; records are kept for `jitpim audit flush`", err=True)
    return evidence
