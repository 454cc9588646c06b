"""`jitpim plan`: what would be granted, and why, without changing anything."""

from __future__ import annotations

from typing import Any

import click

from ..errors import JitError
from ..model import Mode
from ._common import (
    CommonOptions,
    common_options,
    describe_plan,
    echo_json,
    lifecycle_options,
    lifecycle_settings,
    open_runtime,
    target_options,
    targets_from,
    with_common,
)
from ._output import handle_errors

__all__ = ["plan"]


@click.command()
@target_options
@common_options
@lifecycle_options
@handle_errors
@with_common
def plan(common: CommonOptions, **kwargs: Any) -> None:
    """Resolve the targets, read their PIM policies, and print the decision: the duration after
    clamping, and the reason for every clamp or refusal. Nothing is requested and nothing is written.

    Exits 0 when every target would be allowed, else with the refusal's exit code (73 policy, 74 not
    eligible), so a pipeline can check a request before it runs.

    \b
    Example:
      jitpim plan --kind rbac --role "Key Vault Secrets Officer" \\
        --scope /subscriptions/$SUB/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv \\
        --duration 10m --justification "rotate db password"
    """
    from .. import api

    targets, profile_mode = targets_from(kwargs)
    mode = Mode(profile_mode) if profile_mode else common.mode
    options = lifecycle_settings(mode, kwargs)
    with open_runtime(common, mode) as rt:
        result = api.plan(rt, api.AccessRequest(tuple(targets), options))
        identity = rt.session.identity()
        if common.output == "json":
            echo_json({"identity": identity.to_json(), "mode": str(mode), **result.to_json()})
            # The plan is the JSON document; the refusal shows only in the exit status.
            try:
                result.raise_for_refusal()
            except JitError as exc:
                raise SystemExit(exc.exit_code) from None
            return
        click.echo(describe_plan(result, identity, mode))
        result.raise_for_refusal()
