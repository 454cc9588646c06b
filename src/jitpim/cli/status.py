"""`jitpim status`: what is active now, as the ledger knows it and (with --live) as Azure says."""

from __future__ import annotations

import click

from ._common import CommonOptions, common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["status"]


@click.command()
@click.option("--all", "all_", is_flag=True, help="Include finished leases (released, expired, failed).")
@click.option("--live", is_flag=True, help="Also ask Azure/Graph whether each open lease's access still exists.")
@click.option("--run", "run_key", help="Only leases of this CI run (lease-id prefix).")
@common_options
@handle_errors
@with_common
def status(common: CommonOptions, all_: bool, live: bool, run_key: str | None) -> None:
    """List leases from the ledger: id, state, target, until when, and who holds them. With --live, each
    open lease is checked against the API (is the grant still there?).

    \b
    Examples:
      jitpim status                # open leases in this machine's ledger
      jitpim status --all --run "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"
      jitpim status --live -o json
    """
    from .. import api

    with open_runtime(common) as rt:
        result = api.status(rt, api.StatusRequest(all_leases=all_, live=live, run_key=run_key))
        if common.output == "json":
            echo_json(result.to_json())
            return
        if not result.leases:
            click.echo("no open leases" if not all_ else "no leases")
            return
        for row in result.leases:
            live_note = f"  live: {row.live}" if row.live is not None else ""
            click.echo(
                f"{row.lease_id}  {row.state:<15} {row.kind:<10} {row.role!r} on {row.scope}  "
                f"until {row.end_at or '-'}{live_note}"
            )
