"""Sinks for `jitpim audit flush` and `finalize`: loading their configuration, printing a delivery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._output import emit_json

if TYPE_CHECKING:
    from ...audit.sinks import DeliveryReport, SinksConfig

__all__ = ["_print_delivery", "_sinks", "sinks_options"]


def _sinks(sinks_file: Path | None, access_file: Path | None) -> SinksConfig:
    from ...audit.sinks import load_sinks_config

    chosen_access = access_file
    if chosen_access is None:
        import os

        from ...lifecycle import find_access_file

        chosen_access = find_access_file(None, os.environ)
    return load_sinks_config(path=sinks_file, access_file=chosen_access)


sinks_options = (
    click.option(
        "--sinks", "sinks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Sinks file (JSON/YAML). [default: $JITPIM_SINKS, else the access file's audit.sinks]",
    ),
    click.option(
        "--access-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Access file whose audit.sinks section to use. [default: $JITPIM_ACCESS_FILE, ./jitpim.yaml]",
    ),
)  # fmt: skip


def _print_delivery(report: DeliveryReport, output: str, extra: dict[str, Any] | None = None) -> None:
    if output == "json":
        emit_json({**(extra or {}), **report.to_json()})
        return
    if not report.results:
        click.echo("no sinks configured")
    for result in report.results:
        status = (
            click.style("ok", fg="green")
            if not (result.failed or result.pending or result.error)
            else (click.style("FAILED", fg="red", bold=True))
        )
        line = f"{result.sink} ({result.type}): {status}, {result.delivered} delivered, {result.pending} pending"
        click.echo(line + (f": {result.error}" if result.error else ""))
