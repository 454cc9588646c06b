"""The `jitpim` command line: one module per command, imported only when that command runs.

Errors from the library (`jitpim.errors.JitError`) are printed with their hint and exit with their own code;
`--output json` prints them as one JSON object on stdout instead.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from ..errors import JitError

__all__ = ["cli", "main"]

# command name -> (module, attribute, one-line help). Kept here so `jitpim --help` imports nothing heavy.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "plan": ("jitpim.cli.plan", "plan", "Show what would be granted and why (clamps, refusals); change nothing."),
    "exec": ("jitpim.cli.exec_", "exec_", "Hold just-in-time access exactly as long as a command runs."),
    "elevate": ("jitpim.cli.elevate", "elevate", "Grant and wait until effective; leave it for later steps."),
    "release": ("jitpim.cli.release", "release", "Release leases by id, CI run, or all of this principal."),
    "extend": ("jitpim.cli.extend", "extend", "Lengthen a running lease within the policy maximum."),
    "status": ("jitpim.cli.status", "status", "What is active now (ledger, and live with --live)."),
    "eligible": ("jitpim.cli.eligible", "eligible", "What this principal may request."),
    "reap": ("jitpim.cli.reap", "reap", "Release leases whose job is gone or whose end has passed."),
    "rotate": ("jitpim.cli.rotate", "rotate", "Rotate a Key Vault secret or an app's client secret under JIT access."),
    "demo": ("jitpim.cli.demo", "demo", "Run the whole flow against the embedded emulator, with a timeline."),
    "emulator": ("jitpim.cli.emulator", "emulator", "Run the embedded Azure emulator, or print its environment."),
    "audit": ("jitpim.cli.audit", "audit", "Signed audit records: list, show, export, verify, flush, reconcile."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="jitpim", prog_name="jitpim")
def cli() -> None:
    """Just-in-time privileged access to Microsoft Entra and Azure for CI jobs and runbooks.

    A job asks for exactly the role it needs, on exactly the scope, for minutes; jitpim grants it,
    waits until it really works, runs the job, releases it on every exit path, and records who asked,
    why, under which policy, from which commit and run.

    Try it offline: `jitpim demo` runs the whole flow against the embedded emulator.
    """


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="jitpim", standalone_mode=True)
    except JitError as exc:  # pragma: no cover - commands handle their own errors; this is the backstop
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
