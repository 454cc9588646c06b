"""`jitpim reap`: release leases whose job is gone or whose end has passed."""

from __future__ import annotations

from typing import Any

import click

from ..errors import ReleaseFailedError
from ._common import common_options, echo_json, open_runtime, with_common
from ._evidence import record_evidence
from ._output import handle_errors

__all__ = ["reap"]


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be released.")
@click.option(
    "--early-release",
    type=click.Choice(["wait", "expire"]),
    default="expire",
    show_default=True,
    help="When PIM refuses removal in the first 5 minutes: wait for the window, or leave it to expire.",
)
@common_options
@handle_errors
@with_common
def reap(common: Any, dry_run: bool, early_release: str) -> None:
    """Release, from the ledger alone, leases whose `jitpim exec` process is gone (the runner was killed,
    even with SIGKILL), leases whose end has passed (plain RBAC has no expiry at the source), and leases
    whose release failed earlier. Run it at the start of a job, on a schedule, or after a crash.

    Exits 85 if a release failed.

    \b
    Examples:
      jitpim reap --dry-run        # what would be released, and why
      jitpim reap                  # first step of a job, or a schedule
    """
    from ..lifecycle import LifecycleOptions
    from ..lifecycle import reap as run_reaper

    with open_runtime(common) as rt:
        options = LifecycleOptions(mode=common.mode, early_release=early_release)
        results = run_reaper(
            rt.ledger, rt.session.context, clock=rt.clock, options=options, reporter=rt.timeline, dry_run=dry_run
        )
        rows = [{**orphan.to_json(), "release": report.to_json() if report else None} for orphan, report in results]
        evidence = None
        if not dry_run:
            evidence = record_evidence(rt, [r["lease_id"] for r in rows], quiet=common.output == "json")
        if common.output == "json":
            echo_json({"reaped": rows, "dry_run": dry_run, "audit": evidence.to_json() if evidence else None})
        else:
            if not rows:
                click.echo("nothing to reap")
            for row in rows:
                outcome = row["release"]["outcome"] if row["release"] else "would release"
                click.echo(f"{row['lease_id']}: {row['reason']} -> {outcome}")
        failed = [r["lease_id"] for r in rows if r["release"] and r["release"]["outcome"] == "failed"]
        if failed:
            raise ReleaseFailedError("reaping failed for " + ", ".join(failed))
