"""`jitpim pim-policy export|diff|apply`: PIM role settings as code, from one reviewed file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ._common import common_options, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["pim_policy"]

DRIFT_EXIT_CODE = 1  # `diff` found settings that differ from the file (like diff(1)); 0 = in step


@click.group("pim-policy")
def pim_policy() -> None:
    """PIM role settings (maximum activation and assignment durations, MFA, justification, ticket, approvers,
    notifications) of Entra roles, PIM groups and Azure roles, as one reviewed YAML file.

    \b
    export  write the live settings of targets as a file to review and commit
    diff    compare a file with what is live; exit 1 when anything drifted (for a scheduled workflow)
    apply   make the live settings match the file (--what-if shows the changes only)
    Reference: docs/reference/pim-policy.md.
    """


def _targets(kind: str | None, role: str | None, scope: str | None, group: str | None, access: str) -> list[Any]:
    from ..model import Target

    if kind is None:
        return []
    if kind == "pim-group":
        if not group:
            raise UsageError("a pim-group target needs --group", hint="Give the group's name or object id.")
        return [Target.from_flags(kind=kind, role=access, scope=group, access=access)]
    if not role:
        raise UsageError(f"a {kind} target needs --role", hint="Give the role's name or id.")
    if kind == "azure-role" and not scope:
        raise UsageError("an azure-role target needs --scope", hint="Give a subscription, group or resource id.")
    return [Target.from_flags(kind=kind, role=role, scope=scope or "/")]


@pim_policy.command()
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["entra-role", "pim-group", "azure-role"]), help="Export one target.")
@click.option("--role", help="Role name or id (entra-role, azure-role).")
@click.option("--scope", help="ARM scope (azure-role).")
@click.option("--group", help="Group name or object id (pim-group).")
@click.option("--access", type=click.Choice(["member", "owner"]), default="member", show_default=True)
@click.option("--out", "-f", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@common_options
@handle_errors
@with_common
def export(
    common: Any,
    file: Path | None,
    kind: str | None,
    role: str | None,
    scope: str | None,
    group: str | None,
    access: str,
    out: Path | None,
) -> None:
    """Write the live settings of every target in FILE (or of the one target given by flags) as a policy file.

    \b
    Examples:
      jitpim pim-policy export --kind entra-role --role "Global Administrator" -f pim-policy.yaml
      jitpim pim-policy export pim-policy.yaml -f live.yaml      # the live values of the file's targets
    """
    from ..pimpolicy import dump_document, export_settings, load_document
    from ..pimpolicy.document import entry_doc

    targets = [e.target for e in load_document(file)] if file else _targets(kind, role, scope, group, access)
    if not targets:
        raise UsageError("nothing to export", hint="Give a policy FILE, or --kind with --role/--group/--scope.")
    with open_runtime(common) as rt:
        exported = export_settings(rt.session.context(), targets)
    if common.output == "json":
        echo_json({"version": 1, "policies": [entry_doc(t, s) for t, s in exported]})
        return
    text = dump_document(exported)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote the settings of {len(exported)} target(s) to {out}", err=True)
    else:
        click.echo(text, nl=False)


def _show(changes: list[Any], *, verb: str) -> None:
    from ..pimpolicy.changes import plain

    for change in changes:
        if not change.drifted:
            click.echo(f"  in step  {change.live.describe()}")
            continue
        click.echo(f"  {verb}  {change.live.describe()}")
        for name, have, want in change.differences:
            click.echo(f"      {name}: {plain(have)} -> {plain(want)}")


@pim_policy.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common_options
@handle_errors
@with_common
def diff(common: Any, file: Path) -> None:
    """Compare FILE with the live settings. Exit 0 when everything is in step, 1 when anything drifted.

    \b
    Examples:
      jitpim pim-policy diff pim-policy.yaml
      jitpim pim-policy diff pim-policy.yaml -o json     # for a scheduled drift-detection workflow
    """
    from ..pimpolicy import compare, load_document

    entries = load_document(file)
    with open_runtime(common) as rt:
        changes = compare(rt.session.context(), entries)
    drifted = [c for c in changes if c.drifted]
    if common.output == "json":
        echo_json({"file": str(file), "drifted": len(drifted), "policies": [c.to_json() for c in changes]})
    else:
        click.echo(f"{file}: {len(drifted)} of {len(changes)} target(s) drifted")
        _show(changes, verb="drifted")
    if drifted:
        sys.exit(DRIFT_EXIT_CODE)


@pim_policy.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--what-if", is_flag=True, help="Show what would change; change nothing.")
@common_options
@handle_errors
@with_common
def apply(common: Any, file: Path, what_if: bool) -> None:
    """Make the live settings match FILE: only the rules whose managed settings differ are written, and
    what the file does not mention stays as it is. A refused update changes nothing.

    \b
    Examples:
      jitpim pim-policy apply pim-policy.yaml --what-if
      jitpim pim-policy apply pim-policy.yaml
    """
    from ..pimpolicy import apply_changes, compare, load_document

    entries = load_document(file)
    with open_runtime(common) as rt:
        ctx = rt.session.context()
        changes = compare(ctx, entries)
        written = [] if what_if else apply_changes(ctx, changes)
    if common.output == "json":
        echo_json(
            {
                "file": str(file),
                "what_if": what_if,
                "changed": len([c for c in changes if c.drifted]) if what_if else len(written),
                "policies": [c.to_json() for c in changes],
            }
        )
        return
    drifted = [c for c in changes if c.drifted]
    if what_if:
        click.echo(f"{file}: would change {len(drifted)} of {len(changes)} target(s)")
        _show(changes, verb="would change")
    else:
        click.echo(f"{file}: changed {len(written)} of {len(changes)} target(s)")
        _show(changes, verb="changed")
