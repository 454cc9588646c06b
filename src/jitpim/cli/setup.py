"""`jitpim setup github`: the Entra and Azure side of a repository's jitpim, created or corrected."""

from __future__ import annotations

from typing import Any

import click

from ._common import common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["setup"]


@click.group()
def setup() -> None:
    """Create or correct, idempotently, what jitpim needs in Entra and Azure (`--what-if` shows the plan)."""


@setup.command()
@click.option("--repo", required=True, help="The GitHub repository, OWNER/NAME.")
@click.option(
    "--branch", "branches", multiple=True, help="Branch whose workflows may sign in (repeatable). [default: main]"
)
@click.option("--environment", "environments", multiple=True, help="GitHub environment that may sign in (repeatable).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["entra-role", "pim-group", "azure-role", "rbac"]),
    help="Target kinds the workflows use (repeatable). [default: rbac]",
)
@click.option("--vault", help="ARM id of the Key Vault that rbac grants are made on.")
@click.option(
    "--vault-role",
    "roles",
    multiple=True,
    help="Role the rbac delegation may assign (repeatable). [default: Key Vault Secrets Officer]",
)
@click.option("--scope", "arm_scope", help="ARM scope for azure-role requests (and rbac without --vault).")
@click.option("--app-name", help="App registration name. [default: jitpim-OWNER-NAME]")
@click.option(
    "--for-mode",
    "for_mode",
    type=click.Choice(["direct", "broker"]),
    default="direct",
    show_default=True,
    help="direct: the workflow's own app grants itself; broker: the broker's identity gets the rights.",
)
@click.option("--broker-principal", help="Object id of the broker's managed identity (broker mode).")
@click.option("--what-if", is_flag=True, help="Show what would be created or corrected; change nothing.")
@common_options
@handle_errors
@with_common
def github(
    common: Any,
    repo: str,
    branches: tuple[str, ...],
    environments: tuple[str, ...],
    kinds: tuple[str, ...],
    vault: str | None,
    roles: tuple[str, ...],
    arm_scope: str | None,
    app_name: str | None,
    for_mode: str,
    broker_principal: str | None,
    what_if: bool,
) -> None:
    """Set up a GitHub repository: app registration and service principal, a federated credential per branch
    and environment, the Graph permissions its kinds need (consented), a custom role for PIM requests on
    --scope, and for rbac the Role Based Access Control Administrator role on the vault with an ABAC condition
    that allows only --vault-role, only for itself. Run it again any time: it only corrects what differs.
    Run as an administrator; afterwards `jitpim doctor` checks the result. docs/how-to/set-up-github.md.

    \b
    Examples:
      jitpim setup github --repo contoso/payments --vault "$VAULT_ID" --what-if
      jitpim setup github --repo contoso/payments --environment production --kind rbac --vault "$VAULT_ID"
      jitpim setup github --repo contoso/payments --kind azure-role --scope /subscriptions/$SUB/resourceGroups/rg
    """
    from ..estate import SetupOptions, setup_github

    options = SetupOptions(
        repo=repo,
        branches=branches,
        environments=environments,
        kinds=tuple(kinds) or ("rbac",),  # type: ignore[arg-type]
        vault=vault,
        roles=tuple(roles) or ("Key Vault Secrets Officer",),
        scope=arm_scope,
        app_name=app_name,
        mode=for_mode,  # type: ignore[arg-type]
        broker_principal=broker_principal,
    )
    with open_runtime(common) as rt:
        steps = setup_github(rt.session.context(), options, what_if=what_if)
    changes = [s for s in steps if s.action != "none"]
    if common.output == "json":
        echo_json({"repo": repo, "what_if": what_if, "changes": len(changes), "steps": [s.to_json() for s in steps]})
        return
    verb = "would" if what_if else "did"
    for s in steps:
        mark = "ok    " if s.action == "none" else (s.action if what_if or not s.done else s.action + "d")
        click.echo(f"  {mark:8s} {s.what}: {s.detail}")
    click.echo(
        f"{repo}: {verb} change {len(changes)} of {len(steps)}" + ("" if what_if else "; check with `jitpim doctor`")
    )
