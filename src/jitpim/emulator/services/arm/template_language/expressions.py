"""ARM template expressions: a JSON string `"[...]"` is an expression, `"[[..."` a literal starting with `[`.

Grammar (the subset ARM's own parser accepts and the templates use):

    expression := primary postfix*
    primary    := 'string' | integer | name '(' [expression (',' expression)*] ')'
    postfix    := '.' name | '[' expression ']'

Evaluation calls the functions of `functions.py` by case-insensitive name; an unknown name is ARM's
`InvalidTemplate` ("The template function 'x' is not valid"), never a silent pass-through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Access",
    "Call",
    "Index",
    "Literal",
    "Node",
    "TemplateError",
    "evaluate",
    "function_names",
    "is_expression",
    "parse",
]


class TemplateError(Exception):
    """A template the language cannot evaluate: ARM answers 400 `InvalidTemplate` (or the code given)."""

    def __init__(self, message: str, code: str = "InvalidTemplate") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Access:
    target: Node
    member: str


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


Node = Literal | Call | Access | Index

# ARM's own limits: an expression is at most 24,576 characters; nesting is bounded here so a hostile template
# cannot exhaust the parser's stack.
MAX_LENGTH = 24576
MAX_DEPTH = 64
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[(),.\[\]]))"
)


def is_expression(text: str) -> bool:
    return text.startswith("[") and text.endswith("]") and not text.startswith("[[")


def _tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"The language expression '{source}' is not valid: unexpected character at {pos}.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > MAX_LENGTH:
            raise TemplateError(f"The language expression is longer than the limit of {MAX_LENGTH} characters.")
        self.tokens = _tokens(source)
        self.pos = 0
        self.depth = 0

    def _fail(self, why: str) -> TemplateError:
        return TemplateError(f"The language expression '{self.source}' is not valid: {why}.")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, symbol: str) -> None:
        token = self._peek()
        if token != ("sym", symbol):
            raise self._fail(f"expected '{symbol}'")
        self.pos += 1

    def parse(self) -> Node:
        node = self._expression()
        if self._peek() is not None:
            raise self._fail(f"unexpected '{self._peek()[1]}'")  # type: ignore[index]
        return node

    def _expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(f"it nests deeper than {MAX_DEPTH} levels")
        try:
            return self._postfix(self._primary())
        finally:
            self.depth -= 1

    def _postfix(self, node: Node) -> Node:
        while (token := self._peek()) is not None and token[0] == "sym" and token[1] in ".[":
            self.pos += 1
            if token[1] == ".":
                name = self._peek()
                if name is None or name[0] != "name":
                    raise self._fail("expected a property name after '.'")
                self.pos += 1
                node = Access(node, name[1])
            else:
                index = self._expression()
                self._take("]")
                node = Index(node, index)
        return node

    def _primary(self) -> Node:
        token = self._peek()
        if token is None:
            raise self._fail("the expression ends early")
        kind, text = token
        self.pos += 1
        if kind == "str":
            return Literal(text[1:-1].replace("''", "'"))
        if kind == "num":
            return Literal(int(text))
        if kind == "name":
            self._take("(")
            args: list[Node] = []
            if self._peek() != ("sym", ")"):
                args.append(self._expression())
                while self._peek() == ("sym", ","):
                    self.pos += 1
                    args.append(self._expression())
            self._take(")")
            return Call(text, tuple(args))
        raise self._fail(f"unexpected '{text}'")


def parse(text: str) -> Node:
    """The syntax tree of an expression string (with its brackets)."""
    return _Parser(text[1:-1]).parse()


def function_names(node: Node) -> set[str]:
    """Every function an expression calls (lower-cased)."""
    if isinstance(node, Call):
        names = {node.name.lower()}
        for arg in node.args:
            names |= function_names(arg)
        return names
    if isinstance(node, Access):
        return function_names(node.target)
    if isinstance(node, Index):
        return function_names(node.target) | function_names(node.index)
    return set()


Function = Callable[[list[Any]], Any]


def evaluate(node: Node, functions: dict[str, Function]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        function = functions.get(node.name.lower())
        if function is None:
            raise TemplateError(
                f"The template function '{node.name}' is not valid. Please see https://aka.ms/arm-functions for "
                "usage details."
            )
        return function([evaluate(arg, functions) for arg in node.args])
    if isinstance(node, Access):
        target = evaluate(node.target, functions)
        if not isinstance(target, dict):
            raise TemplateError(f"The language expression property '{node.member}' can't be evaluated.")
        match = next((k for k in target if k.lower() == node.member.lower()), None)
        if match is None:
            raise TemplateError(
                f"The language expression property '{node.member}' doesn't exist, available properties are "
                f"'{', '.join(target)}'."
            )
        return target[match]
    target = evaluate(node.target, functions)
    index = evaluate(node.index, functions)
    if isinstance(target, list) and isinstance(index, int) and 0 <= index < len(target):
        return target[index]
    if isinstance(target, dict) and isinstance(index, str):
        match = next((k for k in target if k.lower() == index.lower()), None)
        if match is not None:
            return target[match]
    raise TemplateError(f"The language expression index '{index}' is out of range or not a property.")
