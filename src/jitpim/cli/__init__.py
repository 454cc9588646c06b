"""The `jitpim` command line: one module per command, imported only when that command runs.

Errors from the library (`jitpim.errors.JitError`) are printed with their hint and exit with their own code;
`--output json` prints them as one JSON object on stdout instead.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from ..errors import JitError, UsageError

__all__ = ["cli", "main", "wants_json"]

_ARGS_KEY = "jitpim.args"


class CommandLineError(click.UsageError):
    """A flag or argument click itself refused (missing, unknown, not one of the choices): printed like every
    other jitpim error (`error:` and `hint:` lines) and exiting with UsageError's code, 64 as
    docs/reference/exit-codes.md says, not click's 2, which collides with ordinary program failures."""

    exit_code = UsageError.exit_code

    def __init__(self, original: click.UsageError, args: Sequence[str] = ()) -> None:
        super().__init__(original.format_message(), original.ctx)
        # A group run without its subcommand (`jitpim rotate`): its help is the message, not an error line.
        self.help_only = isinstance(original, click.exceptions.NoArgsIsHelpError)
        self.json = wants_json(args)

    def show(self, file: IO[Any] | None = None) -> None:
        if self.help_only:
            click.echo(self.format_message(), file=file, err=True)
            return
        command = self.ctx.command_path if self.ctx is not None else "jitpim"
        hint = f"See `{command} --help` for its options and an example."
        if self.json:
            # The same one JSON object on stdout every other jitpim error gives under --output json.
            error = UsageError(self.format_message(), hint=hint)
            click.echo(json.dumps(error.to_json(), indent=2), file=file)
            return
        click.echo(click.style("error: ", fg="red", bold=True) + self.format_message(), file=file, err=True)
        click.echo(f"hint: {hint}", file=file, err=True)


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line (or JITPIM_OUTPUT) asks for JSON output, read from the raw arguments because
    click refused them before `--output` could be parsed. The last `--output`/`-o` before `--` wins, as in click;
    an unknown value is not JSON."""
    chosen: str | None = None
    tokens = list(args)
    for index, token in enumerate(tokens):
        if token == "--":
            break
        if token in ("--output", "-o"):
            chosen = tokens[index + 1] if index + 1 < len(tokens) else None
        elif token.startswith("--output="):
            chosen = token.split("=", 1)[1]
        elif token.startswith("-o") and not token.startswith("--"):
            chosen = token[2:]
    if chosen is None:
        chosen = os.environ.get("JITPIM_OUTPUT")
    return chosen == "json"


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
    "dashboard": ("jitpim.cli.dashboard", "dashboard", "Serve a read-only web dashboard of the ledger."),
    "doctor": ("jitpim.cli.doctor", "doctor", "Check an identity's rights: what is missing, what is excessive."),
    "setup": ("jitpim.cli.setup", "setup", "Create or correct what jitpim needs in Entra and Azure, idempotently."),
    "pim-policy": ("jitpim.cli.pim_policy", "pim_policy", "PIM role settings as code: export, diff, apply."),
    "broker": ("jitpim.cli.broker", "broker", "Run the broker: policy over verified job tokens, approvals, grants."),
    "approvals": ("jitpim.cli.approvals", "approvals", "List, show, approve or deny requests held by the broker."),
}


class LazyGroup(click.Group):
    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        given = tuple(args)  # click's parser consumes the list it is handed
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise exc if isinstance(exc, CommandLineError) else CommandLineError(exc, given) from None
        # Kept for usage errors raised later, when subcommands parse their own arguments.
        ctx.meta[_ARGS_KEY] = given
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        # Subcommands parse their arguments inside the group's invoke: their usage errors surface here.
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, CommandLineError):
                raise
            raise CommandLineError(exc, ctx.meta.get(_ARGS_KEY, ())) from None

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
    # azure-identity logs every failed token attempt as a WARNING; with no logging configured Python's
    # last-resort handler would print those multi-line dumps before jitpim's own one-line error and hint.
    import logging  # here, not at import: `jitpim --help` never needs it

    logging.getLogger("azure").addHandler(logging.NullHandler())


def _interrupted(args: Sequence[str]) -> None:
    """SIGINT reached the command line itself (not a lifecycle, which forwards it, releases and records):
    the shell's convention, 128 + 2, with one line saying so (one JSON document under --output json), never
    click's bare "Aborted!" and exit 1."""
    import signal

    code = 128 + int(signal.SIGINT)
    hint = "`jitpim status` shows whether a lease of this command is still open."
    if wants_json(args):
        document = {"error": "Interrupted", "message": "interrupted (SIGINT)", "hint": hint, "exit_code": code}
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(click.style("error: ", fg="red", bold=True) + "interrupted (SIGINT)", err=True)
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def _quiet(args: Sequence[str]) -> bool:
    """Whether the command line asks for no progress (`-q`/`--quiet` before `--`)."""
    for token in args:
        if token == "--":
            return False
        if token in ("-q", "--quiet"):
            return True
    return False


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if _quiet(args):
        import logging

        # HTTP retries are progress lines (WARNING, shown by Python's last-resort handler): -q hides them.
        logging.getLogger("jitpim.http.retry").setLevel(logging.ERROR)
    try:
        # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit 1 (docs promise 128+N).
        result = cli.main(args=argv, prog_name="jitpim", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _interrupted(args)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except JitError as exc:  # pragma: no cover - commands handle their own errors; this is the backstop
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        import errno

        if exc.errno != errno.EPIPE:
            raise
        # The reader went away (`jitpim audit list | head`): as click's standalone mode, exit quietly.
        sys.stdout = None
        sys.exit(1)
    # click returns an `Exit`'s code (--help, --version) or the command's return value.
    sys.exit(result if isinstance(result, int) else 0)
