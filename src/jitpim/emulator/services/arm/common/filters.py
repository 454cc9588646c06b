"""The small OData `$filter` dialect Microsoft.Authorization lists accept.

Terms are joined with `and` only (ARM refuses `or` here):
    atScope()  asTarget()  asRequestor()  asApprover()  asCreatedBy()  atScopeAndBelow()
    assignedTo('{objectId}')
    {field} eq '{value}'      e.g. principalId, roleDefinitionId, roleName, type, status, requestorId
Each list decides which terms (and which combinations) it supports; see `FilterSpec.check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ....core.errors import ArmError

__all__ = ["FilterSpec", "Term", "parse_filter"]

_FUNCTION = re.compile(r"^(?P<name>[A-Za-z]+)\(\s*(?:'(?P<arg>[^']*)')?\s*\)$")
_EQ = re.compile(r"^(?P<name>[A-Za-z]+)\s+eq\s+'(?P<value>[^']*)'$", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    name: str  # lower-cased function or field name; functions end with "()"
    value: str | None = None


def _split_and(text: str) -> list[str]:
    """Split on ` and ` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and text[i : i + 5].lower() == " and ":
            parts.append("".join(current).strip())
            current = []
            i += 5
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return parts


def parse_filter(text: str) -> list[Term]:
    """Parse a `$filter`; ValueError when it is not in the dialect above."""
    terms: list[Term] = []
    for part in _split_and(text.strip()):
        while part.startswith("(") and part.endswith(")") and _FUNCTION.match(part) is None:
            part = part[1:-1].strip()
        function = _FUNCTION.match(part)
        if function:
            terms.append(Term(function.group("name").lower() + "()", function.group("arg")))
            continue
        equality = _EQ.match(part)
        if equality:
            terms.append(Term(equality.group("name").lower(), equality.group("value")))
            continue
        raise ValueError(part)
    return terms


@dataclass(frozen=True)
class FilterSpec:
    """Which terms a list accepts. `combinations` lists the allowed sets of term names when more than one
    term is given (None: any combination of allowed terms)."""

    allowed: frozenset[str]
    message: str
    combinations: tuple[frozenset[str], ...] | None = None

    def check(self, text: str | None) -> list[Term]:
        if text is None:
            return []
        try:
            terms = parse_filter(text)
        except ValueError:
            raise self._unsupported(text) from None
        names = [t.name for t in terms]
        if any(n not in self.allowed for n in names) or len(set(names)) != len(names):
            raise self._unsupported(text)
        if len(terms) > 1 and self.combinations is not None and frozenset(names) not in self.combinations:
            raise self._unsupported(text)
        for term in terms:
            if term.name.endswith("()") and term.name != "assignedto()" and term.value is not None:
                raise self._unsupported(text)
            if term.name == "assignedto()" and not term.value:
                raise self._unsupported(text)
        return terms

    def _unsupported(self, text: str) -> ArmError:
        return ArmError(400, "UnsupportedQuery", f"The filter '{text}' is not supported. {self.message}")
