"""`jitpim eligible`: what this principal may request."""

from __future__ import annotations

from typing import Any

import click

from ._common import common_options, echo_json, open_runtime, with_common
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
def eligible(common: Any, kinds: tuple[str, ...]) -> None:
    """List the PIM eligibilities of the calling principal (self mode: a person's own eligibilities; direct
    mode: what the identity is eligible for), ready to paste as --kind/--role/--scope.

    \b
    Examples:
      jitpim eligible --mode self                  # a person's own eligibilities
      jitpim eligible --kind entra-role --kind azure-role
    """
    from ..errors import JitError
    from ..model import TargetKind
    from ..providers import get_provider

    wanted = [TargetKind(k) for k in kinds] or list(TargetKind)
    with open_runtime(common) as rt:
        ctx = rt.session.context()
        found: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        for kind in wanted:
            try:
                for target in get_provider(kind).eligible(ctx):
                    found.append(target.to_json())
            except JitError as exc:
                problems.append({"kind": str(kind), **exc.to_json()})
        if common.output == "json":
            echo_json({"identity": ctx.identity.to_json(), "eligible": found, "errors": problems})
            return
        click.echo(f"Eligible as {ctx.identity.describe()}:")
        for item in found:
            access = f" --access {item['access']}" if item.get("access") else ""
            click.echo(f"  --kind {item['kind']} --role {item['role']!r} --scope {item['scope']!r}{access}")
        if not found:
            click.echo("  (nothing)")
        for problem in problems:
            click.echo(f"  {problem['kind']}: could not list ({problem['message']})", err=True)
