"""GitHub Actions expressions (`${{ ... }}`) as the runner evaluates them, for the workflow harness: literals,
context property access (`steps.jit.outputs.lease-ids`, `github['event_name']`), `!`, comparisons, `&&`/`||`
(which return an operand, as in the runner), and the functions the example workflows use."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ExpressionError", "evaluate", "interpolate", "is_truthy", "status_condition", "to_string"]


class ExpressionError(ValueError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<number>0x[0-9a-fA-F]+|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"unexpected character at {pos} in {text!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def is_truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) or (a is None and b is None):
        return bool(a == b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return _to_number(a) == _to_number(b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a.lower()
        y: Any = b.lower()
    else:
        x, y = _to_number(a), _to_number(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _format(fmt: Any, *args: Any) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        return to_string(args[int(m.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", repl, to_string(fmt))


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_string(needle).lower() in to_string(haystack).lower()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda a, b: to_string(a).lower().startswith(to_string(b).lower()),
    "endswith": lambda a, b: to_string(a).lower().endswith(to_string(b).lower()),
    "format": _format,
    "join": lambda a, sep=",": to_string(sep).join(to_string(x) for x in a) if isinstance(a, list) else to_string(a),
    "tojson": lambda a: json.dumps(a, indent=2),
    "fromjson": lambda a: json.loads(to_string(a)),
}
_STATUS = ("success", "failure", "always", "cancelled")


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], status: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.contexts = contexts
        self.status = status

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise ExpressionError(f"expected {text or 'a token'}, got {tok.text if tok else 'the end'}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while (tok := self.peek()) is not None and tok.text == "||":
            self.take()
            right = self.and_()
            value = value if is_truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.cmp()
        while (tok := self.peek()) is not None and tok.text == "&&":
            self.take()
            right = self.cmp()
            value = right if is_truthy(value) else value
        return value

    def cmp(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) is not None and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right = self.unary()
            if op == "==":
                value = _equal(value, right)
            elif op == "!=":
                value = not _equal(value, right)
            else:
                value = _compare(op, value, right)
        return value

    def unary(self) -> Any:
        tok = self.peek()
        if tok is not None and tok.text == "!":
            self.take()
            return not is_truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while (tok := self.peek()) is not None and tok.text in (".", "["):
            if self.take().text == ".":
                name = self.take().text
                value = _member(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _member(value, to_string(key) if not isinstance(key, int | float) else key)
        return value

    def primary(self) -> Any:
        tok = self.take()
        if tok.kind == "number":
            return float(int(tok.text, 16)) if tok.text.lower().startswith("0x") else float(tok.text)
        if tok.kind == "string":
            return tok.text[1:-1].replace("''", "'")
        if tok.text == "(":
            value = self.or_()
            self.take(")")
            return value
        if tok.kind != "name":
            raise ExpressionError(f"unexpected {tok.text!r}")
        lowered = tok.text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if (nxt := self.peek()) is not None and nxt.text == "(":
            self.take("(")
            args: list[Any] = []
            while (p := self.peek()) is not None and p.text != ")":
                args.append(self.or_())
                if (p := self.peek()) is not None and p.text == ",":
                    self.take(",")
            self.take(")")
            return self.call(lowered, args)
        if tok.text not in self.contexts:
            raise ExpressionError(f"unknown context {tok.text!r}")
        return self.contexts[tok.text]

    def call(self, name: str, args: list[Any]) -> Any:
        if name in _STATUS:
            return {
                "success": self.status == "success",
                "failure": self.status == "failure",
                "always": True,
                "cancelled": self.status == "cancelled",
            }[name]
        if name not in _FUNCTIONS:
            raise ExpressionError(f"function {name}() is not supported by the harness")
        return _FUNCTIONS[name](*args)


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(key, str):
            for k, v in value.items():
                if k.lower() == key.lower():
                    return v
        return None
    if isinstance(value, list) and isinstance(key, int | float):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def evaluate(text: str, contexts: Mapping[str, Any], *, status: str = "success") -> Any:
    """Evaluate one expression (without `${{ }}`); `status` is the job's: success, failure or cancelled."""
    return _Parser(text, contexts, status).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(text: Any, contexts: Mapping[str, Any], *, status: str = "success") -> Any:
    """Replace each `${{ expr }}` in a string; a value that is exactly one expression keeps its type."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if stripped.startswith("${{") and stripped.endswith("}}") and stripped.count("${{") == 1:
        return evaluate(stripped[3:-2], contexts, status=status)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), contexts, status=status)), text)


def status_condition(condition: Any, contexts: Mapping[str, Any], *, status: str) -> bool:
    """A step's or job's `if:`: without a status function, `success() && (...)` is implied."""
    if condition is None or condition == "":
        return status == "success"
    if isinstance(condition, bool):
        return condition and status == "success"
    text = str(condition).strip()
    whole = _TEMPLATE.fullmatch(text)
    if whole is not None:
        text = whole.group(1)
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", text, re.IGNORECASE):
        text = f"success() && ({text})"
    return is_truthy(evaluate(text, contexts, status=status))
