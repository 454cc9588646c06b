"""`jitpim audit flush`: retry the sinks that did not take every record."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ...errors import AuditError
from .._output import handle_errors, output_option
from ._delivery import _print_delivery, _sinks, sinks_options
from ._shared import _open, ledger_option

__all__ = ["flush"]


@click.command()
@sinks_options[0]
@sinks_options[1]
@ledger_option
@output_option
@handle_errors
def flush(sinks_file: Path | None, access_file: Path | None, ledger: str | None, output: str) -> None:
    """Deliver records still queued for sinks (after a sink failed). Exit code 83 while any remain."""
    from ...audit.sinks import flush as flush_outbox

    config = _sinks(sinks_file, access_file)
    with _open(ledger) as store:
        report = flush_outbox(store, config)
    _print_delivery(report, output)
    if not report.ok:
        sys.exit(AuditError.exit_code)
