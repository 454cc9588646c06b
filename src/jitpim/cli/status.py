"""`jitpim status`: what is active now, as the ledger knows it and (with --live) as Azure says."""

from __future__ import annotations

import click

from ..safe_text import neutralise
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
    """List leases from the ledger: id, state, target, until when, and who holds them, then the latest
    finished leases with their outcome. With --live, each open lease is checked against the API (is the grant
    still there?). Reads a ledger this user may not write.

    \b
    Examples:
      jitpim status                # open leases in this machine's ledger, and the latest finished
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
        for row in result.leases:
            live_note = f"  live: {row.live}" if row.live is not None else ""
            _say(
                f"{row.lease_id}  {row.state:<15} {row.kind:<10} {row.role!r} on {row.scope}  "
                f"until {row.end_at or '-'}{live_note}"
            )
        if result.recent:
            # A run that just ended shows here too: "no open leases" alone read as if nothing had happened.
            click.echo(f"recently finished (latest {len(result.recent)}; --all lists every lease):")
            for row in result.recent:
                _say(f"  {row.lease_id}  {row.outcome or row.state:<15} {row.kind:<10} {row.role!r} on {row.scope}")


def _say(line: str) -> None:
    # Fields of stored records came from outside: no control character reaches the terminal or a CI log.
    click.echo(neutralise(line))
