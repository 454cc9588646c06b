"""`jitpim reap`: release leases whose job is gone or whose end has passed; with `--source`, remove expired
jitpim grants found at the source, with no ledger at all."""

from __future__ import annotations

from typing import Any

import click

from ..errors import ProviderError, ReleaseFailedError
from ._common import common_options, echo_json, open_runtime, with_common
from ._evidence import record_evidence
from ._output import handle_errors

__all__ = ["reap"]

_KINDS = ("rbac", "azure-role", "entra-role", "pim-group")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be released, and why.")
@click.option(
    "--early-release",
    type=click.Choice(["wait", "expire"]),
    default="expire",
    show_default=True,
    help="When PIM refuses removal in the first 5 minutes: wait for the window, or leave it to expire.",
)
@click.option(
    "--source",
    "from_source",
    is_flag=True,
    help="Look at the source instead of the ledger: remove jitpim-marked grants whose holders have all ended "
    "(works with no ledger, e.g. on an ephemeral runner).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="ARM_SCOPE",
    help="With --source: an ARM scope to search, and everything below it (repeatable). "
    "[default: every subscription the identity can see]",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(_KINDS),
    help="With --source: the target kinds to search (repeatable). [default: all]",
)
@common_options
@handle_errors
@with_common
def reap(
    common: Any,
    dry_run: bool,
    early_release: str,
    from_source: bool,
    scopes: tuple[str, ...],
    kinds: tuple[str, ...],
) -> None:
    """Release, from the ledger alone, leases whose `jitpim exec` process is gone (the runner was killed,
    even with SIGKILL), leases whose end has passed (plain RBAC has no expiry at the source), and leases
    whose release failed earlier. Run it at the start of a job, on a schedule, or after a crash.

    With --source, read the grants themselves: every grant jitpim makes carries a marker (lease id, holder,
    end) in the role assignment's description or the PIM request's justification, and a marked grant whose
    holders have all ended is removed, so a runner that lost its ledger leaves nothing behind.

    Only the calling identity's own leases and grants are ended; another principal's (a person's own
    activation) is reported and left alone.

    Exits 85 if a release failed, 78 if --source could not read a scope or kind it was asked to search.

    \b
    Examples:
      jitpim reap --dry-run        # what would be released, and why
      jitpim reap                  # first step of a job, or a schedule
      jitpim reap --source --scope "$VAULT_ID"    # no ledger: expired jitpim grants on the vault
    """
    if (scopes or kinds) and not from_source:
        from ..errors import UsageError

        raise UsageError("--scope and --kind apply to `jitpim reap --source` only", hint="Add --source.")
    if from_source:
        _reap_source(common, dry_run, list(scopes), list(kinds))
        return
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


def _open_ledger_if_any(location: str | None) -> Any:
    """The ledger to consult, read-only, when one exists here; None on a runner that has none."""
    from ..audit.location import resolve_ledger_path
    from ..audit.store import is_postgres_dsn, open_store
    from ..errors import LedgerError

    try:
        if is_postgres_dsn(location):
            return open_store(location)
        path = resolve_ledger_path(location)
        return open_store(str(path), read_only=True) if path.exists() else None
    except LedgerError:
        return None  # unreadable: the markers alone decide, as on a runner with no ledger


def _reap_source(common: Any, dry_run: bool, scopes: list[str], kinds: list[str]) -> None:
    from ..lifecycle import reap_source
    from ..model import TargetKind, validate_arm_scope

    wanted = [TargetKind(k) for k in kinds] or [TargetKind(k) for k in _KINDS]
    checked = [validate_arm_scope(s) for s in scopes]
    ledger = _open_ledger_if_any(common.ledger)
    try:
        with open_runtime(common) as rt:
            report = reap_source(
                rt.session.context,
                scopes=checked,
                kinds=wanted,
                clock=rt.clock,
                reporter=rt.timeline,
                ledger=ledger,
                dry_run=dry_run,
            )
    finally:
        if ledger is not None:
            ledger.close()
    if common.output == "json":
        echo_json({**report.to_json(), "dry_run": dry_run, "ledger": ledger is not None})
    else:
        if not report.findings:
            click.echo("no jitpim-marked grants found at the source")
        for finding in report.findings:
            click.echo(f"{finding.found.resolved.describe()}: {finding.action} ({finding.reason})")
        for error in report.errors:
            click.echo(click.style("error: ", fg="red", bold=True) + error, err=True)
    if report.failed:
        raise ReleaseFailedError(
            "reaping at the source failed for " + ", ".join(f.found.resolved.describe() for f in report.failed)
        )
    if report.errors and (scopes or kinds):
        raise ProviderError(
            "could not search everything asked for: " + "; ".join(report.errors),
            hint="The identity needs read access to role assignments (ARM) or PIM requests (Graph) there.",
        )
