"""`jitpim audit public-key`: the public key that verifies this machine's signatures."""

from __future__ import annotations

import click

from .._output import emit_json, handle_errors, output_option
from ._shared import ledger_option

__all__ = ["public_key"]


@click.command("public-key")
@click.option("--format", "fmt", type=click.Choice(["pem", "base64"]), default="pem", show_default=True)
@ledger_option
@output_option
@handle_errors
def public_key(fmt: str, ledger: str | None, output: str) -> None:
    """Print the public key that verifies this machine's signatures (the key is created on first use)."""
    from ...audit.signing import load_signer
    from ...audit.store import is_postgres_dsn

    if is_postgres_dsn(ledger):
        signer = load_signer(ledger_path=None, create=True)
    else:
        from ...audit.location import resolve_ledger_path

        signer = load_signer(ledger_path=resolve_ledger_path(ledger), create=True)
    assert signer is not None
    text = signer.public.to_pem() if fmt == "pem" else signer.public.to_base64() + "\n"
    if output == "json":
        emit_json({"key_id": signer.key_id, "source": signer.source, "public_key": text.strip(), "format": fmt})
        return
    click.echo(text, nl=False)
