"""`jitpim release`: end leases granted by `jitpim elevate` (or left behind), and verify they are gone."""

from __future__ import annotations

import click

from ..errors import UsageError
from ..model import Mode
from . import _broker_mode
from ._common import CommonOptions, common_options, duration_option, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["release"]


@click.command()
@click.argument("lease_ids", nargs=-1)
@click.option("--run", "run_key", help="Release every open lease of this CI run (lease ids start with it).")
@click.option("--all", "all_", is_flag=True, help="Release every open lease of the calling principal.")
@click.option(
    "--early-release",
    type=click.Choice(["wait", "expire"]),
    default="wait",
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
@common_options
@_broker_mode.broker_options
@handle_errors
@with_common
def release(
    common: CommonOptions,
    lease_ids: tuple[str, ...],
    run_key: str | None,
    all_: bool,
    early_release: str,
    release_deadline: str,
    broker_url: str | None,
    broker_audience: str | None,
) -> None:
    """Release leases by id, by CI run (`--run gh-RUNID-ATTEMPT`), or all open leases of the calling
    principal (`--all`), then verify each is gone. Already-gone access counts as released.

    With --mode broker the ids are broker request ids, and --run/--all release every open request of this
    job through the broker (it retries while the broker is unreachable).

    Exits 85 if any release failed (access may remain: run `jitpim reap` or check `jitpim status`).

    \b
    Examples:
      jitpim release gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93
      jitpim release --run "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"   # the last step of a job
      jitpim release --all --early-release expire
    """
    from .. import api

    if common.mode is Mode.BROKER:
        if sum(bool(x) for x in (lease_ids, run_key, all_)) != 1:
            raise UsageError("name the leases to release: LEASE_ID..., --run RUN, or --all (exactly one of them)")
        # Broker requests are named by request id; --run/--all release every open request of this job.
        return _broker_mode.release(common, lease_ids, bool(run_key or all_), broker_url, broker_audience)
    request = api.ReleaseRequest(
        lease_ids=lease_ids,
        run_key=run_key,
        all_mine=all_,
        early_release=early_release,
        release_deadline=duration_option(release_deadline, "--release-deadline"),
    )
    with open_runtime(common) as rt:
        result = api.release(rt, request)
        if common.output == "json":
            echo_json(result.to_json())
        else:
            if not result.rows:
                click.echo("no open leases matched")
            for row in result.to_json()["releases"]:
                click.echo(
                    f"{row['lease_id']}: {row['outcome']}" + (f" ({row['detail']})" if row.get("detail") else "")
                )
        result.raise_for_failure()
