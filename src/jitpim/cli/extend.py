"""`jitpim extend`: lengthen a running lease within the policy's maximum."""

from __future__ import annotations

import click

from ._common import CommonOptions, common_options, duration_option, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["extend"]


@click.command()
@click.argument("lease_id")
@click.option("--duration", required=True, help="New total length from now, e.g. 30m (within the policy maximum).")
@common_options
@handle_errors
@with_common
def extend(common: CommonOptions, lease_id: str, duration: str) -> None:
    """Lengthen a running lease so a long deployment does not lose its access mid-run. Uses the API's
    extend action where it exists, else a new grant before the old one ends. Refused with the rule named
    when the policy forbids it (exit 73). Only a granted or effective lease can be extended.

    \b
    Example:
      jitpim extend gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93 --duration 45m
    """
    from .. import api

    request = api.ExtendRequest(lease_id, duration_option(duration, "--duration"))
    with open_runtime(common) as rt:
        result = api.extend(rt, request)
        if common.output == "json":
            echo_json(result.to_json())
        else:
            end = result.grant.end_at
            click.echo(f"{lease_id}: now ends at {end:%Y-%m-%d %H:%M:%SZ}" if end else lease_id)
