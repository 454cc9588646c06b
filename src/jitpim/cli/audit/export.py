"""`jitpim audit export`: records as verifiable JSON lines (the evidence format) or CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ...errors import UsageError
from .._output import handle_errors
from ._shared import _filters, _filters_from, _open, _signer, ledger_option

__all__ = ["export"]


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--content",
    type=click.Choice(["summaries", "events"]),
    default="summaries",
    show_default=True,
    help="Signed summary records (one per lease) or the raw chained events.",
)
@click.option("--file", "-f", "file_", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@_filters
@ledger_option
@handle_errors
def export(fmt: str, content: str, file_: Path | None, ledger: str | None, **kwargs: Any) -> None:
    """Export records as verifiable JSON lines (the evidence format) or as CSV for spreadsheets.

    \b
    Examples:
      jitpim audit export --since 30d -f evidence.jsonl && jitpim audit verify evidence.jsonl
      jitpim audit export --format csv --since 30d -f leases.csv
    """
    import io

    from ...audit.export import chain_head, csv_text, export_events, export_summaries, write_jsonl

    filters = _filters_from(kwargs)
    missing: list[str] = []
    with _open(ledger, view=True) as store:
        if content == "events":
            records = export_events(store, filters)
        else:
            records, missing = export_summaries(store, filters)
        signer = _signer(store, create=False)
        head = chain_head(store)
    if fmt == "csv":
        if content == "events":
            raise UsageError("CSV export holds summaries only; use --format jsonl for events")
        text = csv_text(records)
    else:
        buffer = io.StringIO()
        write_jsonl(records, buffer, content=content, filters=filters, signer=signer, ledger_head=head)  # type: ignore[arg-type]
        text = buffer.getvalue()
    if file_ is None:
        sys.stdout.write(text)
    else:
        file_.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(records)} {content} to {file_}", err=True)
    if missing:
        click.echo(
            f"note: {len(missing)} matching lease(s) have no signed summary yet (jitpim audit finalize)", err=True
        )
