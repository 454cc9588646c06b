"""`jitpim elevate`: grant and wait until effective, then leave the access in place for later steps."""

from __future__ import annotations

from typing import Any

import click

from ..model import Mode
from . import _broker_mode
from ._common import (
    CommonOptions,
    common_options,
    echo_json,
    lifecycle_options,
    lifecycle_settings,
    open_runtime,
    target_options,
    targets_from,
    with_common,
)
from ._output import handle_errors
from ._report import github_report, summary_text

__all__ = ["elevate"]


@click.command()
@target_options
@common_options
@lifecycle_options
@_broker_mode.broker_options
@handle_errors
@with_common
def elevate(common: CommonOptions, **kwargs: Any) -> None:
    """The first half of `exec`, for jobs whose privileged work spans several steps: grant the targets,
    wait until the access works, print the lease ids, and exit leaving the access in place.

    Stdout holds only the lease ids, one per line (`L=$(jitpim elevate -q ...)` captures them); the summary
    goes to stderr (not with -q). End it with `jitpim release` (by lease id, `--run`, or `--all`); it also
    ends at its end time at the source (PIM kinds), and `jitpim reap` releases it once that time has passed
    (plain RBAC has no expiry at the source). In GitHub Actions the lease ids are the step output `lease-ids`.

    \b
    Example (two steps of one job):
      jitpim elevate --profile deploy --duration 30m
      ./deploy.sh && jitpim release --run "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"
    """
    from .. import api

    broker_url, broker_audience = kwargs.pop("broker_url"), kwargs.pop("broker_audience")
    access_file = kwargs.get("access_file")
    targets, profile_mode = targets_from(kwargs)
    mode = Mode(profile_mode) if profile_mode else common.mode
    options = lifecycle_settings(mode, kwargs)
    if mode is Mode.BROKER:
        timeout = options.approval_timeout.total_seconds()
        return _broker_mode.elevate(common, targets, broker_url, broker_audience, timeout, access_file)
    with open_runtime(common, mode) as rt:
        result = api.elevate(rt, api.AccessRequest(tuple(targets), options))
        github_report(rt.github, "jitpim elevate", result.leases, [], None)
        if common.output == "json":
            echo_json({**result.to_json(), "timeline": [s.to_json() for s in rt.timeline.steps]})
            return
        if not common.quiet:
            click.echo(summary_text(result.leases, [], None), err=True)
        for lease_id in result.lease_ids:
            click.echo(lease_id)
