"""`jitpim audit report --html`: one self-contained HTML file for a run's evidence file or a ledger."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError, UsageError
from ._output import LEDGER_HELP, emit_json, handle_errors, output_option

__all__ = ["report"]


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted public key for the verification shown in the report; repeat for several. "
    "[default: this machine's signing key, else the keys embedded in an evidence file]",
)
@click.option(
    "--ledger",
    envvar="JITPIM_LEDGER",
    help=LEDGER_HELP + " Used when no PATH is given.",
)
@output_option
@handle_errors
def report(path: Path | None, html_file: Path, public_keys: tuple[Path, ...], ledger: str | None, output: str) -> None:
    """Write a self-contained HTML report (no network access when opened): verification result, provenance,
    a timeline per lease and privilege-hours charts, for a run's evidence file (PATH) or a whole ledger.

    \b
    Examples:
      jitpim audit report runs/gh-9100200300-1.jsonl --html evidence.html --public-key jitpim.pub
      jitpim audit report --html ledger.html            # this machine's ledger
    """
    from ..audit.location import resolve_ledger_path
    from ..audit.signing import load_public_key, load_signer
    from ..audit.store import is_postgres_dsn, open_store, store_file
    from ..audit.summary import summary_records
    from ..audit.verify import SQLITE_MAGIC, verify_store
    from ..audit.verify_evidence import verify_path
    from ..dashboard.report import evidence_records, render_report

    explicit = {k.key_id: k for k in (load_public_key(p) for p in public_keys)}
    if path is not None and path.read_bytes()[: len(SQLITE_MAGIC)] != SQLITE_MAGIC:
        local = None if explicit else load_signer(ledger_path=None, create=False)
        keys = explicit or ({local.key_id: local.public} if local is not None else {})
        verification = verify_path(path, keys=keys)
        records = evidence_records(path)
        source = str(path)
    else:
        location: str | None = str(path) if path is not None else ledger
        if location is None or not is_postgres_dsn(location):
            file = Path(location) if location else resolve_ledger_path(None)
            if not file.is_file():
                raise ConfigError(f"there is no ledger at {file}", hint="Pass --ledger PATH, or the file to report on.")
        with open_store(location, read_only=not is_postgres_dsn(location)) as store:
            local = None if explicit else load_signer(ledger_path=store_file(store), create=False)
            keys = explicit or ({local.key_id: local.public} if local is not None else {})
            if not keys:
                raise UsageError("no public key to verify the ledger with", hint="Pass --public-key FILE.")
            verification = verify_store(store, keys=keys, source=str(location or file))
            records = summary_records(store)
            source = verification.source
    html_file.write_text(render_report(records, verification, source=source), encoding="utf-8")
    if output == "json":
        emit_json({"report": str(html_file), "records": len(records), "verification": verification.to_json()})
    else:
        state = "verified" if verification.ok else "verification FAILED"
        click.echo(f"wrote {html_file}: {len(records)} lease record(s), {state}")
