"""`jitpim audit finalize`: sign the summary of finished leases, write a run file, deliver to sinks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ...errors import AuditError, UsageError
from .._output import emit_json, handle_errors, output_option
from ._delivery import _print_delivery, _sinks, sinks_options
from ._shared import _FINISHED, _open, _signer, ledger_option

__all__ = ["finalize"]


@click.command()
@click.argument("lease_ids", nargs=-1)
@click.option("--run-id", help="Finalize every finished lease of this CI run.")
@click.option("--all-finished", is_flag=True, help="Finalize every finished lease that has no summary yet.")
@click.option("--run-file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the records here.")
@click.option("--deliver/--no-deliver", default=True, show_default=True, help="Send the records to the sinks.")
@sinks_options[0]
@sinks_options[1]
@ledger_option
@output_option
@handle_errors
def finalize(
    lease_ids: tuple[str, ...],
    run_id: str | None,
    all_finished: bool,
    run_file: Path | None,
    deliver: bool,
    sinks_file: Path | None,
    access_file: Path | None,
    ledger: str | None,
    output: str,
) -> None:
    """Sign the summary record of finished leases (the lifecycle does this itself at the end of each lease;
    this is for leases closed elsewhere, e.g. by the reaper), write the run file, and send to the sinks."""
    from ...audit.checkpoints import write_checkpoint
    from ...audit.sinks import deliver as deliver_records
    from ...audit.summary import finalize_lease, write_run_file
    from ...ci.github import GitHubActions

    if not (lease_ids or run_id or all_finished):
        raise UsageError("name leases, or pass --run-id or --all-finished")
    with _open(ledger) as store:
        chosen = list(lease_ids)
        if run_id or all_finished:
            chosen += [
                lease["lease_id"]
                for lease in store.list(run_id=run_id)
                if lease["state"] in _FINISHED and lease["lease_id"] not in chosen
            ]
        signer = _signer(store, create=True)
        assert signer is not None  # create=True makes one
        records = [finalize_lease(store, lease_id, signer) for lease_id in chosen]
        checkpoint = write_checkpoint(store, signer)  # into the run file and to every sink
        written = (
            write_run_file(records, run_file, signer=signer, checkpoint=checkpoint) if run_file is not None else None
        )
        shipped = [*records, checkpoint]
        report = deliver_records(shipped, _sinks(sinks_file, access_file), ledger=store) if deliver else None
    if written is not None:
        GitHubActions().set_output("audit-file", str(written))
    extra = {"records": len(records), "run_file": str(written) if written else None}
    if output != "json":
        click.echo(f"signed {len(records)} summary record(s) with key {signer.key_id}")
        if written is not None:
            click.echo(f"wrote {written}")
    if report is not None:
        _print_delivery(report, output, extra)
        if not report.ok:
            sys.exit(AuditError.exit_code)
    elif output == "json":
        emit_json(extra)
