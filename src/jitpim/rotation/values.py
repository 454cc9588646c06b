"""Where a new secret value comes from, and the wrapper that keeps it out of output.

A value is generated here (`secrets` module: uniform choices from an alphabet, every character class of the
alphabet present), read from a generator command's stdout, or read from stdin or a file for credentials
issued elsewhere (a database's own password rotation, a vendor portal). It never travels in argv or the
environment, and `SecretValue` renders as `SecretValue(<redacted>)` in reprs, f-strings, logs and
tracebacks: only `reveal()` gives the text, and only the code that sends it to Key Vault or to a validation
child calls it.
"""

from __future__ import annotations

import hmac
import os
import secrets
import shlex
import string
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from ..errors import RotationError, UsageError

__all__ = [
    "ALPHABETS",
    "DEFAULT_ALPHABET",
    "DEFAULT_LENGTH",
    "MAX_VALUE_BYTES",
    "SecretValue",
    "ValueSource",
    "from_file",
    "from_generator",
    "from_stream",
    "generate",
    "resolve_alphabet",
]

# Key Vault stores at most 25 KB per secret value.
MAX_VALUE_BYTES: Final = 25 * 1024
DEFAULT_LENGTH: Final = 40
MIN_GENERATED_LENGTH: Final = 16
MAX_GENERATED_LENGTH: Final = 4096
# Characters that survive shells, URLs, connection strings and YAML without quoting.
_SAFE_SYMBOLS: Final = "-_.~!@#%^*+="
ALPHABETS: Final[dict[str, str]] = {
    "alnum": string.ascii_letters + string.digits,
    "alnum-symbols": string.ascii_letters + string.digits + _SAFE_SYMBOLS,
    "hex": "0123456789abcdef",
    "urlsafe": string.ascii_letters + string.digits + "-_",
}
DEFAULT_ALPHABET: Final = "alnum-symbols"
_GENERATOR_TIMEOUT_S: Final = 60.0
_REDACTED: Final = "SecretValue(<redacted>)"


class SecretValue:
    """A secret's text that does not print itself. Compare with `==` (constant time) or `reveal()` it."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError("a SecretValue holds text")
        self._text = text

    def reveal(self) -> str:
        """The text itself: only for sending it where it belongs (Key Vault, a validation child)."""
        return self._text

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __len__(self) -> int:
        return len(self._text)

    def __bool__(self) -> bool:
        return bool(self._text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._text.encode(), other._text.encode())

    def __hash__(self) -> int:
        raise TypeError("a SecretValue is not hashable (it must not become a dict key or set member)")

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SecretValue cannot be pickled")


@dataclass(frozen=True)
class ValueSource:
    """How the value was obtained, for the timeline and the record (never the value)."""

    kind: str  # generated | generator | stdin | file
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


def resolve_alphabet(name_or_characters: str | None) -> tuple[str, str]:
    """(alphabet, how to describe it): a preset name (`alnum`, `alnum-symbols`, `hex`, `urlsafe`) or the
    characters themselves (at least 10 distinct ones)."""
    chosen = name_or_characters.strip() if name_or_characters else DEFAULT_ALPHABET
    if chosen in ALPHABETS:
        return ALPHABETS[chosen], chosen
    characters = "".join(dict.fromkeys(chosen))  # distinct, in the order given
    if len(characters) < 10:
        raise UsageError(
            f"the alphabet has {len(characters)} distinct characters; at least 10 are needed",
            hint=f"Use a preset ({', '.join(ALPHABETS)}) or give at least 10 distinct characters.",
        )
    if any(c.isspace() or not c.isprintable() for c in characters):
        raise UsageError("the alphabet may not contain whitespace or control characters")
    return characters, f"{len(characters)} custom characters"


def _classes(alphabet: str) -> list[str]:
    """The character classes the alphabet draws from; a generated value contains each at least once."""
    groups = [string.ascii_lowercase, string.ascii_uppercase, string.digits]
    found = [g for g in ("".join(c for c in alphabet if c in group) for group in groups) if g]
    others = "".join(c for c in alphabet if not any(c in group for group in groups))
    return [*found, others] if others else found


def generate(length: int = DEFAULT_LENGTH, alphabet: str | None = None) -> tuple[SecretValue, ValueSource]:
    """A uniformly random value of `length` characters from the alphabet (see `resolve_alphabet`), containing
    every character class the alphabet has (rejection sampling keeps the choice uniform among such values)."""
    if not MIN_GENERATED_LENGTH <= length <= MAX_GENERATED_LENGTH:
        raise UsageError(
            f"--length {length} is out of range",
            hint=f"Generate between {MIN_GENERATED_LENGTH} and {MAX_GENERATED_LENGTH} characters.",
        )
    characters, described = resolve_alphabet(alphabet)
    classes = _classes(characters)
    while True:
        text = "".join(secrets.choice(characters) for _ in range(length))
        if all(any(c in group for c in text) for group in classes):
            break
    return SecretValue(text), ValueSource("generated", f"{length} characters, alphabet {described}")


def _checked(raw: bytes, where: str) -> SecretValue:
    if len(raw) > MAX_VALUE_BYTES:
        raise RotationError(
            f"the value from {where} is {len(raw)} bytes; Key Vault stores at most {MAX_VALUE_BYTES}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RotationError(f"the value from {where} is not UTF-8 text") from None
    # One trailing line break is how commands and editors end their output; it is not part of the value.
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise RotationError(f"the value from {where} is empty", hint="Refusing to store an empty secret.")
    return SecretValue(text)


def from_generator(
    command: str, *, environ: Mapping[str, str] | None = None, timeout_s: float = _GENERATOR_TIMEOUT_S
) -> tuple[SecretValue, ValueSource]:
    """Run `command` (split like a shell would, never through one) and take its stdout as the value.

    Its stderr is discarded unread (a generator might echo what it made); only its exit code is reported.
    """
    argv = shlex.split(command)
    if not argv:
        raise UsageError("--generator is empty")
    try:
        completed = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ if environ is None else environ),
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"generator not found: {argv[0]}") from None
    except PermissionError:
        raise UsageError(f"generator is not executable: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise RotationError(f"the generator {argv[0]} did not finish within {timeout_s:.0f}s") from None
    if completed.returncode != 0:
        raise RotationError(f"the generator {argv[0]} exited with {completed.returncode}; nothing was changed")
    return _checked(completed.stdout, f"generator {argv[0]}"), ValueSource("generator", argv[0])


def from_stream(stream: BinaryIO | None = None) -> tuple[SecretValue, ValueSource]:
    """Read the value from a binary stream (default: stdin), up to the Key Vault limit."""
    source = stream if stream is not None else sys.stdin.buffer
    raw = source.read(MAX_VALUE_BYTES + 1)
    return _checked(raw, "stdin"), ValueSource("stdin", "standard input")


def from_file(path: str | os.PathLike[str]) -> tuple[SecretValue, ValueSource]:
    """Read the value from a file (one trailing line break dropped)."""
    p = Path(path)
    try:
        with p.open("rb") as handle:
            raw = handle.read(MAX_VALUE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"--from-file {p}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--from-file {p}: {exc.strerror or exc}") from None
    return _checked(raw, f"file {p}"), ValueSource("file", str(p))
