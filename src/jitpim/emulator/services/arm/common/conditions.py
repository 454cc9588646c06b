"""Azure ABAC role-assignment conditions (conditionVersion 2.0), as the RBAC authorizer evaluates them.

Supported grammar (what constrained delegation and the scenario use):

    expr       := term (('OR' | '||') term)*
    term       := factor (('AND' | '&&') factor)*
    factor     := ('!' | 'NOT') factor | '(' expr ')' | action | comparison
    action     := ('ActionMatches' | 'SubOperationMatches') '{' 'pattern' '}'
    comparison := @Source[namespace/type:Attribute] [Quantifier:]Operator value
    value      := {v, v, ...} | 'string' | GUID | number
    Quantifier := ForAnyOfAnyValues | ForAllOfAnyValues | ForAnyOfAllValues | ForAllOfAllValues

An attribute the request does not carry makes its comparison false, and a condition that does not parse
grants nothing (the authorizer treats it as unsatisfied), which is the fail-closed reading of Azure's rules.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ....core.rbac import action_matches

__all__ = ["ConditionContext", "ConditionError", "condition_satisfied", "parse_condition"]


class ConditionError(ValueError):
    """The condition text is not in the supported grammar."""


@dataclass(frozen=True)
class ConditionContext:
    """What the authorizer knows about the request being evaluated. Attribute keys are lower-cased
    `namespace/type:attribute` names, e.g. `microsoft.authorization/roleassignments:roledefinitionid`."""

    action: str
    request: dict[str, list[str]] = field(default_factory=dict)
    resource: dict[str, list[str]] = field(default_factory=dict)
    principal: dict[str, list[str]] = field(default_factory=dict)
    environment: dict[str, list[str]] = field(default_factory=dict)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!|\(|\)|\{|\}|,)
      | @(?P<source>[A-Za-z]+)\[(?P<attr>[^\]]*)\]
      | '(?P<string>[^']*)'
      | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z][A-Za-z0-9_]*(?::[A-Za-z][A-Za-z0-9_]*)?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    extra: str = ""


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConditionError(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "attr":
            tokens.append(_Tok("attr", match.group("source"), match.group("attr")))
        elif kind is not None:
            tokens.append(_Tok(kind, match.group(kind)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


# Evaluation nodes: each is a callable from the context to a truth value.
_Node = Callable[[ConditionContext], bool]

_QUANTIFIERS = {"foranyofanyvalues", "forallofanyvalues", "foranyofallvalues", "forallofallvalues"}


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _compare(operator: str, left: str, right: str) -> bool:
    op = operator.lower()
    if op in ("guidequals", "guidnotequals"):
        lg, rg = _guid(left.rsplit("/", 1)[-1]), _guid(right)
        equal = lg is not None and lg == rg
        return equal if op == "guidequals" else not equal
    if op == "stringequals":
        return left == right
    if op == "stringnotequals":
        return left != right
    if op == "stringequalsignorecase":
        return left.lower() == right.lower()
    if op == "stringnotequalsignorecase":
        return left.lower() != right.lower()
    if op == "stringstartswith":
        return left.startswith(right)
    if op == "stringnotstartswith":
        return not left.startswith(right)
    if op in ("stringlike", "stringnotlike"):
        pattern = "^" + ".*".join(re.escape(p) for p in right.split("*")) + "$"
        like = re.match(pattern, left) is not None
        return like if op == "stringlike" else not like
    raise ConditionError(f"unsupported operator {operator!r}")


_OPERATORS = {
    "guidequals",
    "guidnotequals",
    "stringequals",
    "stringnotequals",
    "stringequalsignorecase",
    "stringnotequalsignorecase",
    "stringstartswith",
    "stringnotstartswith",
    "stringlike",
    "stringnotlike",
}


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ConditionError("unexpected end of condition")
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise ConditionError(f"expected {text!r}, found {tok.text!r}")

    def _is_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() in words

    def expr(self) -> _Node:
        nodes = [self.term()]
        while (tok := self.peek()) is not None and (tok.text == "||" or self._is_word("or")):
            self.take()
            nodes.append(self.term())
        if len(nodes) == 1:
            return nodes[0]

        def either(ctx: ConditionContext) -> bool:
            return any(n(ctx) for n in nodes)

        return either

    def term(self) -> _Node:
        nodes = [self.factor()]
        while (tok := self.peek()) is not None and (tok.text == "&&" or self._is_word("and")):
            self.take()
            nodes.append(self.factor())
        if len(nodes) == 1:
            return nodes[0]

        def both(ctx: ConditionContext) -> bool:
            return all(n(ctx) for n in nodes)

        return both

    def factor(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise ConditionError("unexpected end of condition")
        if tok.text == "!" or self._is_word("not"):
            self.take()
            inner = self.factor()
            return lambda ctx: not inner(ctx)
        if tok.text == "(":
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        if self._is_word("actionmatches", "suboperationmatches"):
            return self.action()
        if tok.kind == "attr":
            return self.comparison()
        raise ConditionError(f"unexpected {tok.text!r}")

    def action(self) -> _Node:
        word = self.take().text.lower()
        self.expect("{")
        pattern = self.take()
        if pattern.kind != "string":
            raise ConditionError("ActionMatches needs a quoted action pattern")
        self.expect("}")
        if word == "suboperationmatches":
            # No emulated action carries sub-operations, so a sub-operation never matches.
            return lambda ctx: False
        return lambda ctx: action_matches(pattern.text, ctx.action)

    def _value(self) -> str:
        tok = self.take()
        if tok.kind not in ("string", "guid", "number", "word"):
            raise ConditionError(f"expected a value, found {tok.text!r}")
        return tok.text

    def comparison(self) -> _Node:
        attr = self.take()
        source = attr.text.lower()
        if source not in ("request", "resource", "principal", "environment"):
            raise ConditionError(f"unknown attribute source @{attr.text}")
        key = attr.extra.strip().lower()
        op_tok = self.take()
        if op_tok.kind != "word":
            raise ConditionError(f"expected an operator, found {op_tok.text!r}")
        quantifier, _, operator = op_tok.text.rpartition(":")
        if quantifier and quantifier.lower() not in _QUANTIFIERS:
            raise ConditionError(f"unknown quantifier {quantifier!r}")
        if operator.lower() not in _OPERATORS:
            raise ConditionError(f"unsupported operator {operator!r}")
        values: list[str] = []
        if (tok := self.peek()) is not None and tok.text == "{":
            self.take()
            values.append(self._value())
            while (tok := self.peek()) is not None and tok.text == ",":
                self.take()
                values.append(self._value())
            self.expect("}")
        else:
            values.append(self._value())
        mode = quantifier.lower() or "foranyofanyvalues"

        def evaluate(ctx: ConditionContext) -> bool:
            left = getattr(ctx, source).get(key) or []
            if not left:
                return False
            any_left = mode.startswith("forany")
            any_right = mode.endswith("anyvalues")

            def one(value: str) -> bool:
                checks = (_compare(operator, value, right) for right in values)
                return any(checks) if any_right else all(checks)

            return any(one(v) for v in left) if any_left else all(one(v) for v in left)

        return evaluate


@lru_cache(maxsize=256)
def parse_condition(text: str) -> _Node:
    """Compile a condition; ConditionError when it is outside the supported grammar."""
    parser = _Parser(_tokenize(text))
    node = parser.expr()
    rest = parser.peek()
    if rest is not None:
        raise ConditionError(f"unexpected {rest.text!r} after the end of the condition")
    return node


def condition_satisfied(text: str, ctx: ConditionContext) -> bool:
    """Whether the condition holds for this request; an unparseable condition never holds."""
    try:
        return parse_condition(text)(ctx)
    except ConditionError:
        return False
