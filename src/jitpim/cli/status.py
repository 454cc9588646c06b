"""`jitpim status`: what is active now, as the ledger knows it and (with --live) as Azure says."""

from __future__ import annotations

from typing import Any

import click

from ._common import common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["status"]


@click.command()
@click.option("--all", "all_", is_flag=True, help="Include finished leases (released, expired, failed).")
@click.option("--live", is_flag=True, help="Also ask Azure/Graph whether each open lease's access still exists.")
@click.option("--run", "run_key", help="Only leases of this CI run (lease-id prefix).")
@common_options
@handle_errors
@with_common
def status(common: Any, all_: bool, live: bool, run_key: str | None) -> None:
    """List leases from the ledger: id, state, target, until when, and who holds them. With --live, each
    open lease is checked against the API (is the grant still there?).

    \b
    Examples:
      jitpim status                # open leases in this machine's ledger
      jitpim status --all --run "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"
      jitpim status --live -o json
    """
    from ..lifecycle import held_from_record

    with open_runtime(common) as rt:
        records = rt.ledger.list() if all_ else rt.ledger.open_leases()
        if run_key:
            records = [r for r in records if r["lease_id"].startswith(run_key + "/")]
        rows: list[dict[str, Any]] = []
        for record in records:
            row = {
                "lease_id": record["lease_id"],
                "state": record["state"],
                "kind": record["kind"],
                "role": record["role"],
                "scope": record["scope"],
                "principal_id": record.get("principal_id"),
                "end_at": record.get("end_at"),
                "outcome": record.get("outcome"),
                "owner_pid": record.get("owner_pid"),
            }
            if live and record["state"] not in ("released", "expired", "failed"):
                try:
                    held = held_from_record(record, rt.session.context)
                    existing = held.provider.find_existing(held.resolved, held.ctx)
                    row["live"] = "active" if existing is not None else "gone"
                except Exception as exc:
                    row["live"] = f"unknown ({type(exc).__name__})"
            rows.append(row)
        if common.output == "json":
            echo_json({"ledger": str(rt.ledger.path), "leases": rows})
            return
        if not rows:
            click.echo("no open leases" if not all_ else "no leases")
            return
        for row in rows:
            live_note = f"  live: {row['live']}" if "live" in row else ""
            click.echo(
                f"{row['lease_id']}  {row['state']:<15} {row['kind']:<10} {row['role']!r} on {row['scope']}  "
                f"until {row['end_at'] or '-'}{live_note}"
            )
