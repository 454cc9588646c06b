"""OData query support for the emulated Graph: `$filter` (the subset Graph clients use), `$top`, `$select`,
and paging with `@odata.nextLink` / `$skiptoken`.

`$filter` grammar: comparisons `field op literal` with op in eq, ne, gt, ge, lt, le; `startswith(field,'x')`;
`and`, `or` (refusable per entity set), `not`, parentheses. Field paths use `/` (`initiatedBy/user/id`).
Lambda operators over collection properties: `servicePrincipalNames/any(c:c eq 'x')`, `all(...)` likewise
(the form the Azure CLI resolves an `--assignee` with); inside, `c` is the element and `c/id` its property.
Literals: 'strings' ('' escapes a quote), numbers, true/false, null, GUIDs and ISO date-times unquoted.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request

from ....core.clock import parse_time
from ....core.errors import GraphError

__all__ = ["Predicate", "collection", "entity", "parse_filter", "select"]

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_@][\w@./:+-]*)|(?P<num>-?\d[\w.:+-]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _bad(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        return raw[1:-1].replace("''", "'")
    lowered = raw.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _DATETIME.match(raw):
        return parse_time(raw)
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw  # GUIDs and enum members are compared as text


def _field(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            left = parse_time(left)
        except ValueError:
            return False
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool(
            {
                "gt": left > right,
                "ge": left >= right,
                "lt": left < right,
                "le": left <= right,
            }[op]
        )
    except TypeError:
        return False


class _Parser:
    def __init__(
        self, tokens: list[tuple[str, str]], allow_or: bool, fields: set[str] | None, resource: str | None = None
    ) -> None:
        self.tokens = tokens
        self.i = 0
        self.allow_or = allow_or
        self.fields = fields
        self.resource = resource
        self.variables: list[str] = []  # lambda variables in scope (innermost last)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _bad("Invalid filter clause: unexpected end of expression.")
        self.i += 1
        return tok

    def expect(self, kind: str) -> str:
        tok = self.take()
        if tok[0] != kind:
            raise _bad(f"Invalid filter clause: expected {kind} but found '{tok[1]}'.")
        return tok[1]

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise _bad(f"Invalid filter clause: unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return pred

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while (tok := self.peek()) and tok[0] == "word" and tok[1].lower() == "or":
            if not self.allow_or:
                raise GraphError(400, "Request_UnsupportedQuery", "Or operator not supported for this entity set.")
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda item: a(item) or b(item))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while (tok := self.peek()) and tok[0] == "word" and tok[1].lower() == "and":
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda item: a(item) and b(item))(left, right)
        return left

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == "not":
            self.take()
            inner = self.unary()
            return lambda item: not inner(item)
        if tok and tok[0] == "lp":
            self.take()
            inner = self.or_expr()
            self.expect("rp")
            return inner
        return self.comparison()

    def _check_field(self, name: str) -> None:
        if name.split("/")[0] in self.variables:
            return  # a lambda variable: the element, checked where its collection was named
        if self.fields is not None and name.split("/")[0] not in self.fields and self.resource is not None:
            # Directory entity sets (users, groups, applications...) answer with this code and message.
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
                f"'{self.resource}'.",
            )
        if self.fields is not None and name.split("/")[0] not in self.fields:
            raise _bad(f"Invalid filter clause: the property '{name}' is not supported in a filter on this entity set.")

    def comparison(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise _bad(f"Invalid filter clause: expected a property name but found '{word}'.")
        if word.lower() in ("startswith", "endswith") and (nxt := self.peek()) and nxt[0] == "lp":
            self.take()
            name = self.expect("word")
            self._check_field(name)
            self.expect("comma")
            value_kind, value_raw = self.take()
            prefix = str(_literal(value_kind, value_raw)).lower()
            self.expect("rp")
            if word.lower() == "startswith":
                return lambda item: str(_field(item, name) or "").lower().startswith(prefix)
            return lambda item: str(_field(item, name) or "").lower().endswith(prefix)
        head, _, operator = word.rpartition("/")
        if head and operator.lower() in ("any", "all") and (nxt := self.peek()) and nxt[0] == "lp":
            return self.lambda_(head, operator.lower())
        self._check_field(word)
        op_kind, op = self.take()
        if op_kind != "word" or op.lower() not in _OPS:
            raise _bad(f"Invalid filter clause: unsupported operator '{op}'.")
        value_kind, value_raw = self.take()
        if value_kind not in ("str", "num", "word"):
            raise _bad(f"Invalid filter clause: expected a literal but found '{value_raw}'.")
        value = _literal(value_kind, value_raw)
        name, op = word, op.lower()
        return lambda item: _compare(_field(item, name), op, value)

    def lambda_(self, collection_path: str, operator: str) -> Predicate:
        """`path/any(v:expr)` or `path/all(v:expr)`; the tokenizer reads `v:v...` as one word."""
        self._check_field(collection_path)
        self.expect("lp")
        kind, word = self.take()
        variable, colon, first = word.partition(":")
        if kind != "word" or not colon or not variable or not first:
            raise _bad(f"Invalid filter clause: expected 'variable:expression' in {operator}() but found '{word}'.")
        self.tokens[self.i - 1] = ("word", first)
        self.i -= 1
        self.variables.append(variable)
        try:
            inner = self.or_expr()
        finally:
            self.variables.pop()
        self.expect("rp")

        def elements(item: dict[str, Any]) -> list[Any]:
            value = _field(item, collection_path)
            return value if isinstance(value, list) else []

        if operator == "any":
            return lambda item: any(inner({variable: element}) for element in elements(item))
        return lambda item: all(inner({variable: element}) for element in elements(item))


def parse_filter(
    text: str | None, *, allow_or: bool = True, fields: set[str] | None = None, resource: str | None = None
) -> Predicate:
    """A predicate over Graph JSON entities; `fields` limits which properties may be filtered on. With
    `resource` (e.g. 'User'), a property outside `fields` answers the directory's `Request_UnsupportedQuery`."""
    if text is None or not text.strip():
        return lambda item: True
    return _Parser(_tokens(text), allow_or, fields, resource).parse()


def select(item: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return item
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@odata")}


def _skip_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode() + b"==").decode().removeprefix("skip:"))
    except (ValueError, UnicodeDecodeError):
        raise _bad("The $skiptoken is invalid.") from None


def collection(
    request: Request,
    items: Sequence[dict[str, Any]],
    context: str,
    *,
    page_size: int = 100,
    max_top: int = 999,
    filtered: bool = False,
    allow_or: bool = True,
    fields: set[str] | None = None,
    resource: str | None = None,
) -> dict[str, Any]:
    """A Graph collection response: applies `$filter` (unless the caller already did), `$top`, `$select`,
    and pages with an absolute `@odata.nextLink` carrying an opaque `$skiptoken`."""
    params = request.query_params
    rows = list(items)
    if not filtered:
        predicate = parse_filter(params.get("$filter"), allow_or=allow_or, fields=fields, resource=resource)
        rows = [r for r in rows if predicate(r)]
    top_raw = params.get("$top")
    size = page_size
    if top_raw is not None:
        if not top_raw.isdigit() or not 1 <= int(top_raw) <= max_top:
            raise _bad(f"Invalid page size specified: '{top_raw}'. Must be between 1 and {max_top} inclusive.")
        size = int(top_raw)
    skip = _skip_of(params.get("$skiptoken"))
    page = rows[skip : skip + size]
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    body: dict[str, Any] = {
        "@odata.context": f"https://graph.microsoft.com/{version}/$metadata#{context}",
    }
    if params.get("$count", "").lower() == "true":
        body["@odata.count"] = len(rows)
    body["value"] = [select(r, params.get("$select")) for r in page]
    if skip + size < len(rows):
        token = base64.urlsafe_b64encode(f"skip:{skip + size}".encode()).decode().rstrip("=")
        query = [(k, v) for k, v in params.multi_items() if k != "$skiptoken"]
        if top_raw is None:
            query.append(("$top", str(size)))
        query.append(("$skiptoken", token))
        from urllib.parse import urlencode

        body["@odata.nextLink"] = str(request.url.replace(query=urlencode(query, safe="$',()=")))
    return body


def entity(request: Request, item: dict[str, Any], context: str) -> dict[str, Any]:
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#{context}/$entity", **item}
