"""Azure ABAC conditions on the caller's own right to assign roles, judged before anything is sent.

Constrained delegation gives a CI identity `Role Based Access Control Administrator` with a condition such as

    ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}))
     OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {b86a...}
         AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {2b3c...}))

ARM evaluates it on the PUT and answers 403 for any other role. The `permissions` read returns each entry's
`condition`, so `plan` can say the same thing before the grant: this module evaluates the condition for the
write with the request's attributes (`RoleDefinitionId`, `PrincipalId`, `PrincipalType`).

Three-valued logic: an attribute jitpim cannot know here (`@Resource`, `@Principal`, `@Environment`), an operator
it does not implement, or text it cannot parse makes that part UNKNOWN, and an UNKNOWN verdict never refuses:
only a condition that is certainly false for this request does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._arm import action_matches, permits

__all__ = ["ConditionVerdict", "evaluate_condition", "write_allowed"]


class ConditionVerdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


# Kleene logic: True, False, None (unknown).
Tri = bool | None

_TOKEN = re.compile(
    r"\s*(?:(?P<lparen>\()|(?P<rparen>\))|(?P<not>!|NOT\b)|(?P<and>&&|AND\b)|(?P<or>\|\||OR\b)"
    r"|(?P<action>(?:ActionMatches|SubOperationMatches)\s*\{\s*'(?P<pattern>[^']*)'\s*\})"
    r"|(?P<attr>@(?P<source>[A-Za-z]+)\[(?P<name>[^\]]+)\])"
    r"|(?P<set>\{[^}]*\})|(?P<string>'[^']*')|(?P<word>[A-Za-z0-9_:.\-/]+))",
    re.IGNORECASE,
)
_KINDS = ("lparen", "rparen", "not", "and", "or", "action", "attr", "set", "string", "word")
_GUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)


class _UnparsableError(ValueError):
    pass


@dataclass
class _Request:
    action: str
    attributes: dict[str, list[str]]  # lower-cased "namespace/type:attribute" -> values


def _tokens(text: str) -> list[tuple[str, re.Match[str]]]:
    out: list[tuple[str, re.Match[str]]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _UnparsableError(text[pos : pos + 20])
        kind = next(k for k in _KINDS if match.group(k))
        out.append((kind, match))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _values(kind: str, match: re.Match[str]) -> list[str]:
    if kind == "set":
        inner = match.group("set")[1:-1]
        return [v.strip().strip("'").strip() for v in inner.split(",") if v.strip()]
    if kind == "string":
        return [match.group("string")[1:-1]]
    return [match.group("word")]


def _norm_guid(value: str) -> str | None:
    return value.replace("-", "").lower() if _GUID.match(value.strip()) else None


_Compare = Callable[[str, str], bool | None]


def _guid_equals(a: str, b: str) -> bool | None:
    x, y = _norm_guid(a), _norm_guid(b)
    return None if x is None or y is None else x == y


_OPERATORS: dict[str, tuple[_Compare, bool]] = {
    # name -> (comparison, negated)
    "guidequals": (_guid_equals, False),
    "guidnotequals": (_guid_equals, True),
    "stringequals": (lambda a, b: a == b, False),
    "stringnotequals": (lambda a, b: a == b, True),
    "stringequalsignorecase": (lambda a, b: a.lower() == b.lower(), False),
    "stringnotequalsignorecase": (lambda a, b: a.lower() == b.lower(), True),
}


def _quantified(operator: str, have: list[str], want: list[str]) -> Tri:
    quantifier, _, name = operator.rpartition(":")
    spec = _OPERATORS.get(name.lower())
    if spec is None:
        return None
    compare, negated = spec

    def eq(a: str, b: str) -> Tri:
        result = compare(a, b)
        return None if result is None else (not result if negated else result)

    def any_of(items: list[Tri]) -> Tri:
        return True if True in items else (None if None in items else False)

    def all_of(items: list[Tri]) -> Tri:
        return False if False in items else (None if None in items else True)

    q = quantifier.lower() or "foranyofanyvalues"
    if q == "foranyofanyvalues":
        return any_of([any_of([eq(h, w) for w in want]) for h in have])
    if q == "forallofanyvalues":
        return all_of([any_of([eq(h, w) for w in want]) for h in have])
    if q == "foranyofallvalues":
        return any_of([all_of([eq(h, w) for w in want]) for h in have])
    if q == "forallofallvalues":
        return all_of([all_of([eq(h, w) for w in want]) for h in have])
    return None


class _Parser:
    def __init__(self, text: str, request: _Request) -> None:
        self.items = _tokens(text)
        self.pos = 0
        self.request = request

    def _peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def _take(self) -> tuple[str, re.Match[str]]:
        if self.pos >= len(self.items):
            raise _UnparsableError("unexpected end")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def parse(self) -> Tri:
        value = self._expr()
        if self.pos != len(self.items):
            raise _UnparsableError("trailing text")
        return value

    def _expr(self) -> Tri:
        value = self._term()
        while self._peek() == "or":
            self._take()
            right = self._term()
            value = True if True in (value, right) else (None if None in (value, right) else False)
        return value

    def _term(self) -> Tri:
        value = self._factor()
        while self._peek() == "and":
            self._take()
            right = self._factor()
            value = False if False in (value, right) else (None if None in (value, right) else True)
        return value

    def _factor(self) -> Tri:
        kind, match = self._take()
        if kind == "not":
            inner = self._factor()
            return None if inner is None else not inner
        if kind == "lparen":
            value = self._expr()
            if self._take()[0] != "rparen":
                raise _UnparsableError("missing )")
            return value
        if kind == "action":
            return action_matches(match.group("pattern"), self.request.action)
        if kind == "attr":
            operator_kind, operator = self._take()
            if operator_kind != "word":
                raise _UnparsableError("operator expected")
            value_kind, literal = self._take()
            if value_kind not in ("set", "string", "word"):
                raise _UnparsableError("value expected")
            if match.group("source").lower() != "request":
                return None  # @Resource/@Principal/@Environment: not known before the call
            have = self.request.attributes.get(match.group("name").strip().lower())
            if have is None:
                return None
            return _quantified(operator.group("word"), have, _values(value_kind, literal))
        raise _UnparsableError(f"unexpected {kind}")


def evaluate_condition(condition: str, *, action: str, attributes: dict[str, list[str]]) -> ConditionVerdict:
    """The condition's verdict for a request doing `action` with `attributes` (keys lower-cased)."""
    try:
        value = _Parser(condition, _Request(action, attributes)).parse()
    except _UnparsableError:
        return ConditionVerdict.UNKNOWN
    if value is None:
        return ConditionVerdict.UNKNOWN
    return ConditionVerdict.ALLOWED if value else ConditionVerdict.DENIED


def write_allowed(
    entries: list[dict[str, Any]], action: str, *, role_definition_id: str, principal_id: str, principal_type: str
) -> ConditionVerdict:
    """Whether some permission entry allows creating this role assignment: ALLOWED when one allows it with no
    condition or a condition that holds, DENIED when every entry's condition is certainly false for it."""
    prefix = "microsoft.authorization/roleassignments:"
    attributes = {
        prefix + "roledefinitionid": [role_definition_id],
        prefix + "principalid": [principal_id],
        prefix + "principaltype": [principal_type],
    }
    verdicts: list[ConditionVerdict] = []
    for entry in entries:
        if not permits([entry], action):
            continue
        condition = entry.get("condition")
        if not isinstance(condition, str) or not condition.strip():
            return ConditionVerdict.ALLOWED
        verdicts.append(evaluate_condition(condition, action=action, attributes=attributes))
    if ConditionVerdict.ALLOWED in verdicts:
        return ConditionVerdict.ALLOWED
    if ConditionVerdict.UNKNOWN in verdicts:
        return ConditionVerdict.UNKNOWN
    return ConditionVerdict.DENIED if verdicts else ConditionVerdict.UNKNOWN
