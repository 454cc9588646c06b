"""`jitpim audit list`: leases with their outcome and whether a signed summary exists."""

from __future__ import annotations

from typing import Any

import click

from .._output import emit_json, handle_errors, output_option
from ._shared import _filters, _filters_from, _open, _say, _short, ledger_option

__all__ = ["list_"]


@click.command("list")
@_filters
@ledger_option
@output_option
@handle_errors
def list_(ledger: str | None, output: str, **kwargs: Any) -> None:
    """List leases with their outcome and whether a signed summary exists.

    \b
    Example: jitpim audit list --since 7d --repository contoso/payments --outcome release_failed
    """
    from ...audit.export import select_leases
    from ...audit.summary import SUMMARY_EVENT

    filters = _filters_from(kwargs)
    with _open(ledger, view=True) as store:
        leases = select_leases(store, filters)
        signed = {e["lease_id"] for e in store.events() if e["type"] == SUMMARY_EVENT}
    rows: list[dict[str, Any]] = [
        {
            "lease_id": lease["lease_id"],
            "state": lease["state"],
            "outcome": lease["outcome"],
            "kind": lease["kind"],
            "role": lease["role"],
            "scope": lease["scope"],
            "principal_id": lease["principal_id"],
            "repository": (lease["run"] or {}).get("repository"),
            "run_id": (lease["run"] or {}).get("run_id"),
            "created_at": lease["created_at"],
            "signed": lease["lease_id"] in signed,
        }
        for lease in leases
    ]
    if output == "json":
        emit_json({"leases": rows, "filters": filters.to_json()})
        return
    if not rows:
        click.echo("no leases match")
        return
    click.echo(f"{'LEASE':44} {'STATE':15} {'OUTCOME':15} {'TARGET':40} {'CREATED':20} SIGNED")
    for row in rows:
        target = f"{row['kind']} {row['role']} @ {row['scope']}"
        _say(
            f"{_short(row['lease_id'], 44):44} {row['state']:15} {row['outcome'] or '-':15} "
            f"{_short(target, 40):40} {row['created_at'][:19]:20} {'yes' if row['signed'] else 'no'}"
        )
