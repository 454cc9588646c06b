"""`jitpim plan`: what would be granted, and why, without changing anything."""

from __future__ import annotations

from typing import Any

import click

from ..model import Mode
from ._common import (
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
def plan(common: Any, **kwargs: Any) -> None:
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
    from ..lifecycle import make_plan

    targets, profile_mode = targets_from(kwargs)
    mode = Mode(profile_mode) if profile_mode else common.mode
    options = lifecycle_settings(mode, kwargs)
    with open_runtime(common, mode) as rt:
        result = make_plan(targets, contexts=rt.session.context, options=options, clock=rt.clock)
        identity = rt.session.identity()
        if common.output == "json":
            echo_json({"identity": identity.to_json(), "mode": str(mode), **result.to_json()})
        else:
            click.echo(describe_plan(result, identity, mode))
        if not result.allowed:
            if common.output == "json":
                try:
                    result.raise_for_refusal()
                except Exception as exc:
                    raise SystemExit(getattr(exc, "exit_code", 1)) from None
            result.raise_for_refusal()
