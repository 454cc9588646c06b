"""`jitpim reap`: release leases whose job is gone or whose end has passed; with `--source`, remove expired
jitpim grants found at the source, with no ledger at all."""

from __future__ import annotations

import click

from ..errors import UsageError
from ._common import CommonOptions, common_options, duration_option, echo_json, open_runtime, with_common
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
    "--release-deadline",
    default="10m",
    show_default=True,
    envvar="JITPIM_RELEASE_DEADLINE",
    help="How long a throttled or unanswered release is asked again (honouring Retry-After) before it fails.",
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
    common: CommonOptions,
    dry_run: bool,
    early_release: str,
    release_deadline: str,
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
    from .. import api
    from ..model import TargetKind

    if (scopes or kinds) and not from_source:
        raise UsageError("--scope and --kind apply to `jitpim reap --source` only", hint="Add --source.")
    if from_source:
        source_request = api.SourceReapRequest(scopes, tuple(TargetKind(k) for k in kinds), dry_run)
        with open_runtime(common) as rt:
            found = api.reap_source(rt, source_request)
        if common.output == "json":
            echo_json(found.to_json())
        else:
            if not found.report.findings:
                click.echo("no jitpim-marked grants found at the source")
            for finding in found.report.findings:
                click.echo(f"{finding.found.resolved.describe()}: {finding.action} ({finding.reason})")
            for error in found.report.errors:
                click.echo(click.style("error: ", fg="red", bold=True) + error, err=True)
        found.raise_for_failure()
        return
    request = api.ReapRequest(
        dry_run=dry_run,
        early_release=early_release,
        release_deadline=duration_option(release_deadline, "--release-deadline"),
    )
    with open_runtime(common) as rt:
        result = api.reap(rt, request)
        if common.output == "json":
            echo_json(result.to_json())
        else:
            rows = result.rows()
            if not rows:
                click.echo("nothing to reap")
            for row in rows:
                outcome = row["release"]["outcome"] if row["release"] else "would release"
                click.echo(f"{row['lease_id']}: {row['reason']} -> {outcome}")
        result.raise_for_failure()
