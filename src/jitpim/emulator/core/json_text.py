"""Reading JSON a client sent: strict UTF-8, valid JSON, and at most `MAX_DEPTH` levels of nesting.

The depth limit is the one Azure's front ends enforce (System.Text.Json and Json.NET both stop at 64): a
body nested 100,000 levels deep must be a 400 in the service's envelope, not a `RecursionError` deep in
the parser. The depth is measured before parsing, so the parser never recurses further than the limit.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeGuard

__all__ = ["MAX_DEPTH", "JsonDepthError", "JsonTextError", "check_depth", "is_finite_number", "parse_json"]

MAX_DEPTH = 64

# A JSON string (skipped whole, so brackets inside strings do not count) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonTextError(ValueError):
    """The body is not UTF-8, not JSON, or nested too deeply; the message says which, for the client."""


class JsonDepthError(JsonTextError):
    """The body nests deeper than the limit."""


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse text whose brackets nest deeper than `limit` (outside strings)."""
    # Counting is C-speed; only text with more brackets than the limit needs the exact scan.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise JsonDepthError(
                    f"The JSON payload is nested deeper than the maximum depth of {limit}; send a flatter document."
                )
        elif token in (b"]", b"}"):
            depth -= 1


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them unless told not to.
    raise JsonTextError(f"'{name}' is not a valid JSON value; send a finite number.")


def parse_json(raw: bytes | str) -> Any:
    """The parsed value of `raw`; `JsonTextError` names what is wrong (encoding, syntax or depth)."""
    data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonTextError(f"The request body is not valid UTF-8 (invalid byte at offset {exc.start}).") from None
    check_depth(data)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JsonTextError(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except RecursionError:  # unreachable after check_depth; kept so no input can reach the crash handler
        raise JsonDepthError(f"The JSON payload is nested deeper than the maximum depth of {MAX_DEPTH}.") from None
    return value


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number that is a real, finite value (not a bool, NaN or infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
