"""The evidence record of leases that ended: sign each lease's summary, write the run's evidence file (the
artifact a CI job uploads), and deliver the records to the configured sinks.

Every way of ending leases (a hold, `jitpim release`, the reaper) records its evidence through
`EvidenceWriter.record`, so they all leave the same evidence. A sink that fails keeps its records in the
ledger's outbox (`jitpim audit flush` retries them); the failure shows in the result and, when nothing worse
happened, in the exit status (`AuditSinkError`, 83: `Evidence.exit_code`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..audit.location import LEDGER_ENV, resolve_ledger_path
from ..audit.sinks import DeliveryReport
from ..audit.store import AuditStore, store_file
from ..errors import AuditError, AuditSinkError
from ..model import RunContext
from .access_file import find_access_file

__all__ = ["AUDIT_FILE_ENV", "Evidence", "EvidenceWriter", "StepOutputs", "with_sink_status"]

# Where the run's evidence file goes, when set; else beside the ledger, in runs/<run key>.jsonl.
AUDIT_FILE_ENV = "JITPIM_AUDIT_FILE"


class StepOutputs(Protocol):
    """**Protocol:** where a CI step's outputs go (GitHub Actions' `$GITHUB_OUTPUT`; nothing elsewhere)."""

    @property
    def active(self) -> bool: ...

    def set_output(self, name: str, value: str) -> bool: ...


@dataclass(frozen=True)
class Evidence:
    """What the evidence record of some leases produced."""

    records: list[dict[str, Any]]
    run_file: Path | None
    delivery: DeliveryReport | None

    @property
    def sinks_failed(self) -> bool:
        return self.delivery is not None and not self.delivery.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "records": len(self.records),
            "run_file": str(self.run_file) if self.run_file else None,
            "sinks": self.delivery.to_json() if self.delivery is not None else None,
        }


def with_sink_status(exit_code: int, evidence: Evidence | None) -> int:
    """The rule for failed sinks: when everything else succeeded (exit 0) but a sink failed, the run exits
    `AuditSinkError`'s code (83) so the missing delivery is not silent; any other outcome keeps its own code."""
    if exit_code == 0 and evidence is not None and evidence.sinks_failed:
        return AuditSinkError.exit_code
    return exit_code


@dataclass(frozen=True)
class EvidenceWriter:
    """Records the evidence of leases (see the module docstring). `environ` is explicit so that a simulated
    job (the demo) stays out of `os.environ`; `say` reports progress; `outputs` receives `audit-file`."""

    ledger: AuditStore
    run: RunContext
    environ: Mapping[str, str]
    outputs: StepOutputs | None = None
    say: Callable[[str], None] | None = None

    def run_file_path(self) -> Path:
        explicit = self.environ.get(AUDIT_FILE_ENV)
        if explicit:
            return Path(explicit)
        # A PostgreSQL ledger has no file to sit beside: the run files go where the default ledger file would.
        local = {name: value for name, value in self.environ.items() if name != LEDGER_ENV}
        beside = store_file(self.ledger) or resolve_ledger_path(None, local)
        return beside.parent / "runs" / f"{self.run.run_key or 'local'}.jsonl"

    def record(self, lease_ids: Sequence[str]) -> Evidence | None:
        """Sign each lease's summary, write the run's evidence file and deliver to the sinks; None when none
        of `lease_ids` is in the ledger (nothing to record)."""
        from ..audit.checkpoints import write_checkpoint
        from ..audit.sinks import deliver
        from ..audit.sinks.config import load_sinks_config
        from ..audit.summary import finalize_lease, signer_for, summary_records, write_run_file

        ledger = self.ledger
        known = [lid for lid in dict.fromkeys(lease_ids) if ledger.find(lid) is not None]
        if not known:
            return None
        signer = signer_for(ledger, self.environ)
        records = [finalize_lease(ledger, lid, signer) for lid in known]
        # The run file holds every lease of this run so far (a job's several steps add up in one artifact).
        run_key = self.run.run_key
        if run_key:
            run_ids = [r["lease_id"] for r in ledger.list() if r["lease_id"].startswith(run_key + "/")]
            records_for_file = summary_records(ledger, run_ids)
        else:
            records_for_file = records
        # A signed checkpoint of the chain head right after the summaries: into the run file and to every sink,
        # so a cut-off tail or a rewrite of the ledger shows against it later (`jitpim audit verify --checkpoint`).
        checkpoint = write_checkpoint(ledger, signer)
        run = self.run
        binding = {"repository": run.repository, "run_id": run.run_id, "run_attempt": run.run_attempt}
        path = self.run_file_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            run_file = write_run_file(records_for_file, path, signer=signer, run=binding, checkpoint=checkpoint)
        except OSError as exc:
            raise AuditError(
                f"cannot write the evidence file {path}: {exc.strerror or type(exc).__name__}",
                hint="Point JITPIM_AUDIT_FILE at a file this user may write; the signed records are in the "
                "ledger, and `jitpim audit export` writes them out again.",
            ) from None
        if self.outputs is not None and self.outputs.active:
            self.outputs.set_output("audit-file", str(run_file))
        config = load_sinks_config(access_file=find_access_file(None, self.environ), environ=self.environ)
        delivery = (
            deliver([*records, checkpoint], config, ledger=ledger, environ=self.environ) if config.sinks else None
        )
        evidence = Evidence(records, run_file, delivery)
        if self.say is not None:
            self.say(f"{len(records)} signed record(s); evidence file {run_file}")
            if evidence.sinks_failed:
                self.say("some sinks failed; records are kept for `jitpim audit flush`")
        return evidence
