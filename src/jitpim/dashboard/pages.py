"""HTML for the dashboard and the report: one layout, a filter form, tables, and the charts.

Everything interpolated is escaped here; values come from the ledger, which records no secret or token (the
audit guard refuses them on write), and nothing on a page is taken from request headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Final
from urllib.parse import urlencode

from .queries import Approval, Filters, Problem, Usage

__all__ = ["CSS", "document", "filter_form", "kv_table", "nav", "pager", "table", "time_left"]

CSS: Final = """
:root{--fg:#1b1b1b;--muted:#505050;--line:#c8c8c8;--accent:#005a9e;--ok:#0b6a0b;--bad:#a4262c}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
margin:0;background:#fff}header{background:#1b1b1b;color:#fff;padding:.6rem 1rem;display:flex;gap:1.5rem;
align-items:center;flex-wrap:wrap}header a{color:#fff}header .brand{font-weight:700;font-size:1.1rem}
nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}main{padding:1rem;max-width:1200px;margin:auto}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:1.6rem}a{color:var(--accent)}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid var(--line);
padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f3f3}
td.num{text-align:right}
code,.mono{font-family:ui-monospace,Consolas,monospace;font-size:.85rem;word-break:break-all}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:.5rem 0}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
form.filters input,form.filters select{font:inherit;padding:.2rem .3rem;border:1px solid #767676}
button{font:inherit;padding:.3rem .8rem;background:var(--accent);color:#fff;border:0;border-radius:3px}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.muted{color:var(--muted)}
.exports a{margin-right:.8rem}.chart .label,.chart .value,.chart .empty{font-size:12px;fill:#1b1b1b}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.8rem;padding:0}.swatch{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;vertical-align:middle}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid var(--line);padding:.6rem 1rem;min-width:10rem}.card .n{font-size:1.6rem;font-weight:700}
"""

_NAV: Final = (
    ("/", "Overview"),
    ("/leases", "Leases"),
    ("/usage", "Privilege-hours"),
    ("/approvals", "Approvals"),
    ("/problems", "Problems"),
)


def nav(current: str) -> str:
    current_attr = ' aria-current="page"'
    items = "".join(
        f'<li><a href="{href}"{current_attr if href == current else ""}>{label}</a></li>' for href, label in _NAV
    )
    return f'<nav aria-label="Sections"><ul>{items}</ul></nav>'


def document(title: str, body: str, *, current: str | None = None, subtitle: str = "") -> str:
    header = '<header><span class="brand">jitpim</span>' + (nav(current) if current is not None else "")
    header += f'<span class="muted">{escape(subtitle)}</span></header>' if subtitle else "</header>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script and no remote resource may load: the page works offline and leaks nothing.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:; form-action 'self'\">"
        f"<title>{escape(title)} · jitpim</title><style>{CSS}</style></head><body>{header}"
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str = "", empty: str = "None.") -> str:
    """A table; a cell that is a `Markup` is inserted as is, anything else is escaped."""
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    cap = f'<caption class="muted">{escape(caption)}</caption>' if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """Trusted HTML built by this module (links, status badges)."""


def _cell(value: Any) -> str:
    if isinstance(value, Markup):
        return f"<td>{value}</td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{escape(str(value))}</td>'
    return f"<td>{escape('' if value is None else str(value))}</td>"


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def lease_link(lease_id: str) -> Markup:
    from urllib.parse import quote

    return link("/leases/" + quote(lease_id, safe=""), lease_id)


def badge(ok: bool, text: str) -> Markup:
    return Markup(f'<span class="{"ok" if ok else "bad"}">{escape(text)}</span>')


def kv_table(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(k)}</th>{_cell(v)}</tr>' for k, v in pairs if v not in (None, "", {}, [])
    )
    return f"<table>{rows}</table>"


def time_left(end_at: str | None, now: datetime) -> str:
    if not end_at:
        return "no end at the source"
    try:
        end = datetime.fromisoformat(end_at)
    except ValueError:
        return end_at
    seconds = int((end - now).total_seconds())
    if seconds <= 0:
        return "ended"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def filter_form(action: str, filters: Filters, *, states: Sequence[str] = ()) -> str:
    def field(name: str, label: str, value: str | None) -> str:
        return f'<label for="f-{name}">{label}<input id="f-{name}" name="{name}" value="{escape(value or "")}"></label>'

    options = '<option value="">any</option>' + "".join(
        f"<option{' selected' if s == filters.state else ''}>{escape(s)}</option>" for s in states
    )
    state = f'<label for="f-state">State<select id="f-state" name="state">{options}</select></label>' if states else ""
    since = filters.since.strftime("%Y-%m-%d") if filters.since else None
    until = filters.until.strftime("%Y-%m-%d") if filters.until else None
    return (
        f'<form class="filters" method="get" action="{escape(action)}" role="search">'
        + field("repository", "Repository", filters.repository)
        + field("run", "Run", filters.run)
        + field("role", "Role", filters.role)
        + field("principal", "Principal id", filters.principal)
        + state
        + field("since", "From (UTC date)", since)
        + field("until", "Until (UTC date)", until)
        + '<button type="submit">Filter</button></form>'
    )


def pager(base: str, filters: Filters, more: bool) -> str:
    links = []
    if filters.page > 1:
        links.append(link(base + "?" + urlencode({**filters.query(), "page": filters.page - 1}), "← newer"))
    if more:
        links.append(link(base + "?" + urlencode({**filters.query(), "page": filters.page + 1}), "older →"))
    label = f"page {filters.page}"
    return f'<nav aria-label="Pages"><p>{" ".join(links)} <span class="muted">{label}</span></p></nav>'


def exports(base: str, filters: Filters) -> str:
    query = urlencode(filters.query())
    suffix = f"?{query}" if query else ""
    return (
        f'<p class="exports">Export: <a href="{escape(base)}.csv{escape(suffix)}">CSV</a>'
        f'<a href="{escape(base)}.json{escape(suffix)}">JSON</a></p>'
    )


def scope_cell(scope: str) -> Markup:
    """An ARM scope shortened to its last two segments; the whole scope stays in the title and the text."""
    parts = scope.strip("/").split("/")
    short = "/".join(parts[-2:]) if len(parts) > 2 else scope
    return Markup(f'<span title="{escape(scope)}">{escape(short)}</span>')


def lease_rows(records: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    rows = []
    for r in records:
        run = r.get("run") or {}
        rows.append(
            [
                lease_link(r["lease_id"]),
                r["state"],
                r["kind"],
                r["role"],
                scope_cell(r["scope"]),
                r.get("principal_id"),
                run.get("repository") if isinstance(run, Mapping) else None,
                r.get("end_at"),
                r.get("outcome"),
            ]
        )
    return rows


LEASE_HEADERS: Final = ("Lease", "State", "Kind", "Role", "Scope", "Principal", "Repository", "Ends", "Outcome")


def usage_rows(usage: Sequence[Usage]) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for u in usage:
        totals[u.key] = totals.get(u.key, 0.0) + u.hours
    return sorted(((k, round(v, 3)) for k, v in totals.items()), key=lambda kv: kv[1], reverse=True)


def approval_rows(items: Sequence[Approval]) -> list[list[Any]]:
    return [
        [
            lease_link(a.lease_id),
            a.role,
            a.scope,
            a.principal_id,
            a.requested_at,
            a.decision,
            a.decided_by or ("PIM" if a.decision != "pending" else ""),
            None if a.wait_s is None else round(a.wait_s, 1),
        ]
        for a in items
    ]


APPROVAL_HEADERS: Final = ("Lease", "Role", "Scope", "Principal", "Requested", "Decision", "Decided by", "Wait (s)")


def problem_rows(items: Sequence[Problem]) -> list[list[Any]]:
    return [[lease_link(p.lease_id), p.category, p.at, p.role, scope_cell(p.scope), p.detail] for p in items]


PROBLEM_HEADERS: Final = ("Lease", "Category", "At", "Role", "Scope", "Detail")


def pretty_json(value: Any) -> Markup:
    return Markup(f'<pre class="mono">{escape(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>')
