"""Output for people (default) and machines (`--output json`), and the one place errors become exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import JitError

__all__ = ["LEDGER_HELP", "emit_json", "handle_errors", "output_option"]

# One wording for --ledger on every command that has it.
LEDGER_HELP = (
    "Ledger: a SQLite file or a postgresql:// DSN. [default: $JITPIM_LEDGER, else "
    "$XDG_STATE_HOME/jitpim/ledger.sqlite3]"
)

F = TypeVar("F", bound=Callable[..., Any])

output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="JITPIM_OUTPUT",
    help="Human-readable text, or one JSON document on stdout for machines.",
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def handle_errors(func: F) -> F:
    """Turn a JitError into its message, hint and exit code (JSON on stdout under --output json)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except JitError as exc:
            if kwargs.get("output") == "json":
                emit_json(exc.to_json())
            else:
                click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
                if exc.hint:
                    click.echo("hint: " + exc.hint, err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]
