"""After a command changes leases: sign each lease's summary record, write the run's evidence file (the
artifact a CI job uploads), and deliver the records to the configured sinks.

A sink that fails keeps its records in the ledger's outbox (`jitpim audit flush` retries them); the failure
shows in the output and, when nothing worse happened, in the exit status (83).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["Evidence", "collect_evidence", "record_evidence"]


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


def _run_file_path(ledger: Any, run: Any, environ: Mapping[str, str]) -> Path:
    explicit = environ.get("JITPIM_AUDIT_FILE")
    if explicit:
        return Path(explicit)
    return Path(ledger.path).parent / "runs" / f"{run.run_key or 'local'}.jsonl"


def collect_evidence(
    ledger: Any,
    run: Any,
    github: Any,
    lease_ids: Sequence[str],
    *,
    environ: Mapping[str, str],
    say: Callable[[str], None] | None = None,
) -> Evidence | None:
    """Sign each lease's summary, write the run's evidence file and deliver to the sinks. Every command
    that ends leases (exec, release, reap, rotate, demo) goes through here, so they all leave the same
    evidence. `environ` is explicit so the demo's simulated job stays out of `os.environ`."""
    from ..audit.checkpoints import write_checkpoint
    from ..audit.sinks import deliver
    from ..audit.sinks.config import load_sinks_config
    from ..audit.summary import finalize_lease, signer_for, summary_records, write_run_file
    from ..lifecycle import find_access_file

    lease_ids = [lid for lid in dict.fromkeys(lease_ids) if ledger.find(lid) is not None]
    if not lease_ids:
        return None
    signer = signer_for(ledger, environ)
    records = [finalize_lease(ledger, lid, signer) for lid in lease_ids]
    # The run file holds every lease of this run so far (a job's several steps add up in one artifact).
    run_key = run.run_key
    if run_key:
        run_ids = [r["lease_id"] for r in ledger.list() if r["lease_id"].startswith(run_key + "/")]
        records_for_file = summary_records(ledger, run_ids)
    else:
        records_for_file = records
    # A signed checkpoint of the chain head right after the summaries: into the run file and to every sink, so
    # a cut-off tail or a rewrite of the ledger shows against it later (`jitpim audit verify --checkpoint`).
    checkpoint = write_checkpoint(ledger, signer)
    binding = {"repository": run.repository, "run_id": run.run_id, "run_attempt": run.run_attempt}
    path = _run_file_path(ledger, run, environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_file = write_run_file(records_for_file, path, signer=signer, run=binding, checkpoint=checkpoint)
    if github.active:
        github.set_output("audit-file", str(run_file))
    config = load_sinks_config(access_file=find_access_file(None, environ), environ=environ)
    delivery = deliver([*records, checkpoint], config, ledger=ledger, environ=environ) if config.sinks else None
    evidence = Evidence(records, run_file, delivery)
    if say is not None:
        say(f"{len(records)} signed record(s); evidence file {run_file}")
        if evidence.sinks_failed:
            say("some sinks failed; records are kept for `jitpim audit flush`")
    return evidence


def record_evidence(rt: Any, lease_ids: Sequence[str], *, quiet: bool = False) -> Evidence | None:
    """`collect_evidence` for the lifecycle commands, reporting on stderr."""

    def say(message: str) -> None:
        click.echo(f"audit: {message}", err=True)

    return collect_evidence(rt.ledger, rt.run, rt.github, lease_ids, environ=os.environ, say=None if quiet else say)
