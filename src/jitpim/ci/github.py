"""GitHub Actions integration: workflow commands, outputs, the step summary, masking.

Inside a GitHub Actions job (`GITHUB_ACTIONS=true`):

* `mask(value)` prints `::add-mask::` for each non-blank line of the value, so the runner hides every line;
* `set_output(name, value)` appends to the `$GITHUB_OUTPUT` file (`name=value`, or for a value with line
  breaks `name<<DELIMITER` / value / `DELIMITER` with a random delimiter that does not occur in the value);
* `add_summary(markdown)` appends to `$GITHUB_STEP_SUMMARY` (refusing an append that would take it past the
  runner's 1 MiB limit, which would drop the whole summary);
* `notice`/`warning`/`error` print `::notice title=...::message` annotations; `group(name)` wraps output
  in `::group::`/`::endgroup::`.

Outside Actions, `mask`, `set_output`, `add_summary` and `group` do nothing (they return False where they
return anything), and `notice`/`warning`/`error` write a plain `jitpim: warning: title: message` line to
stderr so a local run still shows them. Escaping follows the runner's rules: in messages `%`, `\\r`, `\\n`
become `%25`, `%0D`, `%0A`; in properties also `:` -> `%3A` and `,` -> `%2C`.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final, TextIO

from jitpim.errors import ConfigError, UsageError
from jitpim.safe_text import neutralise

__all__ = ["STEP_SUMMARY_LIMIT_BYTES", "GitHubActions", "escape_data", "escape_property"]

# The runner refuses to upload a step summary larger than 1024 KiB, and then shows none of it.
STEP_SUMMARY_LIMIT_BYTES: Final = 1024 * 1024

_OUTPUT_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")


def escape_data(text: str) -> str:
    """Escape a workflow command's message (the part after the second `::`): the runner's own escapes for
    `%`, CR and LF (so a multi-line annotation stays one command), and every other control character (ESC
    sequences, the Unicode line separators, bidi overrides) written visibly by `neutralise`."""
    return neutralise(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    """Escape a workflow command property value (`title=...`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, message: str, properties: Mapping[str, object] | None = None) -> str:
    rendered = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in (properties or {}).items()
        if value is not None and value != ""
    )
    return f"::{name}{' ' + rendered if rendered else ''}::{escape_data(message)}"


class GitHubActions:
    """The GitHub Actions job this process runs in, if any (see the module docstring)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._stdout = sys.stdout if stdout is None else stdout
        self._stderr = sys.stderr if stderr is None else stderr

    @property
    def active(self) -> bool:
        """True inside a GitHub Actions job."""
        return self._environ.get("GITHUB_ACTIONS", "").lower() == "true"

    @property
    def oidc_available(self) -> bool:
        """True when the job may request an OIDC token (`permissions: id-token: write`)."""
        return bool(
            self._environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") and self._environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        )

    def _emit(self, line: str) -> None:
        # Flushed at once: the runner reads commands from the stream in order with the child's output.
        self._stdout.write(line + "\n")
        self._stdout.flush()

    def _file(self, variable: str) -> str:
        path = self._environ.get(variable, "")
        if not path:
            raise ConfigError(
                f"${variable} is not set although GITHUB_ACTIONS=true",
                hint="Run on a GitHub-hosted or current self-hosted runner, which provides the file commands.",
            )
        return path

    def _append(self, variable: str, text: str) -> None:
        path = self._file(variable)
        try:
            with open(path, "a", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as error:
            raise ConfigError(f"cannot append to ${variable}: {error.strerror or error}", target=path) from error

    # -- masking ----------------------------------------------------------------------------------------

    def mask(self, value: str) -> bool:
        """Ask the runner to hide `value` in logs, each line separately. False when not in Actions."""
        if not self.active:
            return False
        for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            # Masking whitespace would blank out every space in the log; such lines reveal nothing.
            if line.strip():
                self._emit(_command("add-mask", line))
        return True

    # -- file commands ----------------------------------------------------------------------------------

    def set_output(self, name: str, value: str) -> bool:
        """Set step output `name`. False (nothing written) when not in Actions."""
        if _OUTPUT_NAME.fullmatch(name) is None:
            raise UsageError(f"not a valid output name: {name!r} (letters, digits, '_' and '-' only)")
        if not self.active:
            return False
        if "\n" not in value and "\r" not in value:
            self._append("GITHUB_OUTPUT", f"{name}={value}\n")
            return True
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # practically never; but a value must not be able to end the heredoc
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        self._append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        return True

    def add_summary(self, markdown: str) -> bool:
        """Append Markdown to the job's step summary. False when not in Actions or when it would not fit."""
        if not self.active:
            return False
        path = self._file("GITHUB_STEP_SUMMARY")
        text = markdown if markdown.endswith("\n") else markdown + "\n"
        try:
            current = os.path.getsize(path)
        except FileNotFoundError:
            current = 0
        except OSError as error:
            raise ConfigError(f"cannot read $GITHUB_STEP_SUMMARY: {error.strerror or error}", target=path) from error
        if current + len(text.encode("utf-8")) > STEP_SUMMARY_LIMIT_BYTES:
            self.warning(
                "The step summary would exceed GitHub's 1 MiB limit; this part was left out.",
                title="jitpim summary truncated",
            )
            return False
        self._append("GITHUB_STEP_SUMMARY", text)
        return True

    # -- annotations and groups -------------------------------------------------------------------------

    def _annotate(self, level: str, message: str, title: str | None, file: str | None, line: int | None) -> None:
        if self.active:
            self._emit(_command(level, message, {"title": title, "file": file, "line": line}))
            return
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        heading = f"{title}: " if title else ""
        # One line, whatever the message holds: another CI system's log reads it too.
        self._stderr.write(neutralise(f"jitpim: {level}: {where}{heading}{message}") + "\n")
        self._stderr.flush()

    def notice(
        self, message: str, title: str | None = None, *, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("notice", message, title, file, line)

    def warning(
        self, message: str, title: str | None = None, *, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("warning", message, title, file, line)

    def error(
        self, message: str, title: str | None = None, *, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("error", message, title, file, line)

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """Fold the output printed inside the block under `name` in the job log (ended even on error)."""
        if not self.active:
            yield
            return
        self._emit(_command("group", name))
        try:
            yield
        finally:
            self._emit("::endgroup::")
