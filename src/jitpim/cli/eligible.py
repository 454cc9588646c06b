"""`jitpim eligible`: what this principal may request."""

from __future__ import annotations

import click

from ._common import CommonOptions, common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["eligible"]


@click.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["entra-role", "pim-group", "azure-role", "rbac"]),
    help="Only these kinds (repeatable). [default: all PIM kinds]",
)
@common_options
@handle_errors
@with_common
def eligible(common: CommonOptions, kinds: tuple[str, ...]) -> None:
    """List the PIM eligibilities of the calling principal (self mode: a person's own eligibilities; direct
    mode: what the identity is eligible for), ready to paste as --kind/--role/--scope.

    \b
    Examples:
      jitpim eligible --mode self                  # a person's own eligibilities
      jitpim eligible --kind entra-role --kind azure-role
    """
    from .. import api
    from ..model import TargetKind

    with open_runtime(common) as rt:
        result = api.eligible(rt, api.EligibleRequest(tuple(TargetKind(k) for k in kinds)))
        if common.output == "json":
            echo_json(result.to_json())
            return
        click.echo(f"Eligible as {result.identity.describe()}:")
        for item in result.eligible:
            access = f" --access {item['access']}" if item.get("access") else ""
            click.echo(f"  --kind {item['kind']} --role {item['role']!r} --scope {item['scope']!r}{access}")
        if not result.eligible:
            click.echo("  (nothing)")
        for problem in result.errors:
            click.echo(f"  {problem['kind']}: could not list ({problem['message']})", err=True)
