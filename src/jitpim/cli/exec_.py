"""`jitpim exec`: hold just-in-time access for exactly as long as a command runs."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

import click

from ..model import Mode
from . import _broker_mode
from ._common import (
    CommonOptions,
    common_options,
    duration_option,
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

__all__ = ["exec_"]


@click.command(name="exec", context_settings={"allow_interspersed_args": False})
@target_options
@common_options
@lifecycle_options
@_broker_mode.broker_options
@click.option(
    "--child-grace",
    default="5s",
    show_default=True,
    envvar="JITPIM_CHILD_GRACE",
    help="After the first signal is forwarded to COMMAND, how long it may take to exit before its process "
    "group is killed (GitHub Actions kills the job 10s after cancelling it; the release must fit in that).",
)
@click.option(
    "--child-audience",
    "child_audiences",
    multiple=True,
    metavar="AUDIENCE",
    help="Also serve COMMAND tokens for this audience: arm, graph, keyvault, storage or a resource URL "
    "(repeatable). By default COMMAND gets tokens only for the APIs its lease is about.",
)
@click.option(
    "--pass-credentials",
    is_flag=True,
    help="Pass jitpim's own credential (the GitHub OIDC request token, AZURE_CLIENT_SECRET, a federated token "
    "file) to COMMAND instead of a token endpoint for its lease. RISK: COMMAND can then do everything jitpim's "
    "identity can, including granting itself roles that outlive the job.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
@with_common
def exec_(
    common: CommonOptions,
    command: tuple[str, ...],
    child_grace: str,
    child_audiences: tuple[str, ...],
    pass_credentials: bool,
    **kwargs: Any,
) -> None:
    """Grant the targets, wait until the access really works, run COMMAND, then release everything and
    verify the release, whether COMMAND succeeds, fails or crashes, or jitpim gets SIGINT/SIGTERM/SIGHUP
    (forwarded to COMMAND's process group first; COMMAND is killed --child-grace later, and dies with jitpim).

    Under --output json, COMMAND's stdout goes to stderr, so stdout holds only jitpim's JSON document.

    Exits with COMMAND's own exit code when every release succeeded; 85 when a release failed (the
    most severe outcome); see docs/reference/exit-codes.md for the rest. Refuses to run inside another
    `jitpim exec`.

    COMMAND does not get jitpim's own credential: Azure SDKs and `az login --identity` in it get tokens for
    the lease's APIs only (Key Vault for a Key Vault data role, ARM for a management role, Graph for Entra
    targets), only while the lease lasts, from a local managed-identity endpoint (IDENTITY_ENDPOINT).

    \b
    Examples:
      jitpim exec --kind rbac --role "Key Vault Secrets Officer" --scope "$VAULT_ID" \\
        --duration 10m -j "rotate db password" -- ./rotate.sh
      jitpim exec --profile rotate-kv -- az keyvault secret set ...
    """
    from .. import api
    from ..lifecycle import check_not_nested

    check_not_nested(os.environ)
    broker_url, broker_audience = kwargs.pop("broker_url"), kwargs.pop("broker_audience")
    access_file = kwargs.get("access_file")
    targets, profile_mode = targets_from(kwargs)
    mode = Mode(profile_mode) if profile_mode else common.mode
    options = dataclasses.replace(
        lifecycle_settings(mode, kwargs), child_grace=duration_option(child_grace, "--child-grace", zero_ok=True)
    )
    if mode is Mode.BROKER:
        timeout = options.approval_timeout.total_seconds()
        return _broker_mode.exec_(common, targets, list(command), broker_url, broker_audience, timeout, access_file)
    with open_runtime(common, mode) as rt:
        request = api.ExecRequest(
            api.AccessRequest(tuple(targets), options),
            tuple(command),
            stdout_to_stderr=common.output == "json",
            child_audiences=child_audiences,
            pass_credentials=pass_credentials,
        )
        result = api.exec(rt, request)
        github_report(rt.github, "jitpim exec", result.leases, result.releases, result.exit_code)
        if common.output == "json":
            echo_json({**result.to_json(), "timeline": [s.to_json() for s in rt.timeline.steps]})
        elif not common.quiet:
            click.echo(summary_text(result.leases, result.releases, result.exit_code), err=True)
    sys.exit(result.exit_code)
