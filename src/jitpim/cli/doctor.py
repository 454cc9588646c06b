"""`jitpim doctor`: check an identity's Azure and Graph rights against what jitpim needs."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["doctor"]

PROBLEMS_EXIT_CODE = 1  # something is missing or excessive; 0 = exactly what is needed


@click.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["entra-role", "pim-group", "azure-role", "rbac"]),
    help="Target kinds to check for (repeatable). [default: all four]",
)
@click.option(
    "--scope", help="ARM scope whose rights to check (azure-role, rbac): a subscription, group or resource id."
)
@click.option(
    "--as-mode",
    "check_mode",
    type=click.Choice(["direct", "broker", "self"]),
    help="The mode to check for. [default: --mode]",
)
@common_options
@handle_errors
@with_common
def doctor(common: Any, kinds: tuple[str, ...], scope: str | None, check_mode: str | None) -> None:
    """Check that the calling identity holds what jitpim needs for a mode and target kind, and nothing more.

    Reads the Graph permissions of a fresh token and the effective Azure permissions at --scope (with the
    role assignments and ABAC conditions behind them). Prints each right as ok, missing or excessive, with
    the command that fixes it. Exit 0 when everything is exactly right, 1 when anything is missing or
    excessive. The table it enforces: docs/reference/permissions.md.

    \b
    Examples:
      jitpim doctor --kind rbac --scope "$VAULT_ID"                 # a pipeline that grants itself on a vault
      jitpim doctor --kind entra-role --kind pim-group -o json
      jitpim doctor --as-mode broker --scope /subscriptions/$SUB    # the CI identity must hold nothing
    """
    from ..estate import Status, check_estate

    chosen = tuple(kinds) or ("entra-role", "pim-group", "azure-role", "rbac")
    mode = check_mode or str(common.mode)
    with open_runtime(common) as rt:
        ctx = rt.session.context()
        findings = check_estate(ctx, mode, chosen, scope=scope)  # type: ignore[arg-type]
        identity = ctx.identity
    problems = [f for f in findings if f.status in (Status.MISSING, Status.EXCESSIVE)]
    if common.output == "json":
        echo_json(
            {
                "identity": identity.to_json(),
                "mode": mode,
                "kinds": list(chosen),
                "scope": scope,
                "ok": not problems,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        click.echo(f"{identity.describe()}: {mode} mode, {', '.join(chosen)}" + (f" at {scope}" if scope else ""))
        for finding in findings:
            mark = {"ok": "ok       ", "missing": "MISSING  ", "excessive": "EXCESSIVE", "unknown": "unknown  "}
            click.echo(f"  {mark[str(finding.status)]} {finding.api}: {finding.name}  ({finding.detail})")
            if finding.fix and finding.status is not Status.OK:
                click.echo(f"            fix: {finding.fix}")
        click.echo(f"{len(problems)} problem(s)" if problems else "everything jitpim needs, and nothing more")
    if problems:
        sys.exit(PROBLEMS_EXIT_CODE)
