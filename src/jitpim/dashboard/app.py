"""`jitpim dashboard`: a read-only web view of a ledger (SQLite or PostgreSQL), as an ASGI app.

Pages: the overview (open grants with time left, privilege-hours, recent leases), leases with filters and
paging, one page per lease (timeline, provenance, signature check), privilege-hours per principal, role, scope
or repository, approvals, and problems (failures, releases that failed, grants left to expire, reaped, drift).
Every table also comes as `.csv` and `.json`. The app only reads; its sign-in is in `signin.py`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, quote

from jitpim.audit.signing import PublicKey
from jitpim.audit.store import AuditStore
from jitpim.errors import AuthError

from . import charts, pages
from .lease_check import check_lease
from .queries import (
    GROUPS,
    OPEN_STATES,
    Filters,
    approvals,
    count_leases,
    lease_events,
    leases,
    open_grants,
    privilege_hours,
    problems,
    stored_lease,
)
from .signin import Sessions, TokenVerifier

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["DashboardConfig", "create_app"]

_STATES: Final = (*OPEN_STATES, "released", "expired", "failed", "planned")
_COOKIE: Final = "jitpim_session"
_SECURITY_HEADERS: Final = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class DashboardConfig:
    """What the app serves: the ledger, the keys a lease's signature must verify with (`pinned` when the user
    gave them rather than taking the configured signing key's), and the sign-in (None: loopback only)."""

    store: AuditStore
    keys: Mapping[str, PublicKey]
    pinned: bool
    verifier: TokenVerifier | None = None
    title: str = "jitpim"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def _date(text: str | None, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text.strip()) == 10:  # a bare date includes the whole day
        moment += timedelta(days=1)
    return moment


def _filters(request: Request) -> Filters:
    q = request.query_params

    def text(name: str) -> str | None:
        value = (q.get(name) or "").strip()
        return value or None

    try:
        page = int(q.get("page") or 1)
    except ValueError:
        page = 1
    return Filters(
        repository=text("repository"),
        run=text("run"),
        role=text("role"),
        principal=text("principal"),
        state=text("state") if text("state") in _STATES else None,
        since=_date(text("since")),
        until=_date(text("until"), end=True),
        page=max(1, min(page, 100_000)),
    )


def _rows_csv(headers: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(headers), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in headers})
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a cell as a formula
    return value


def create_app(config: DashboardConfig) -> Starlette:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
    from starlette.routing import Route

    store = config.store
    sessions = Sessions()

    # Endpoints are plain functions: starlette runs them in its thread pool, so a slow ledger read never
    # blocks the event loop (only sign-in, which awaits the request body, is async).
    def html(body: str, status: int = 200) -> Response:
        return HTMLResponse(body, status_code=status, headers=_SECURITY_HEADERS)

    def export(name: str, fmt: str, headers: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Response:
        if fmt not in ("csv", "json"):
            return PlainTextResponse("unknown export format: use .csv or .json", status_code=404)
        if fmt == "json":
            return JSONResponse({name: list(rows)}, headers=_SECURITY_HEADERS)
        return PlainTextResponse(
            _rows_csv(headers, rows),
            media_type="text/csv; charset=utf-8",
            headers={**_SECURITY_HEADERS, "content-disposition": f'attachment; filename="{name}.csv"'},
        )

    def overview(request: Request) -> Response:
        now = config.clock()
        filters = _filters(request)
        held = open_grants(store, filters)
        month = Filters(**{**asdict(filters), "since": filters.since or now - timedelta(days=30), "page": 1})
        usage = privilege_hours(store, month, group="principal", now=now)
        recent = leases(store, filters.with_page(1), page_size=20)
        trouble = problems(store, filters, limit=10)
        cards = (
            f'<div class="cards"><div class="card"><div class="n">{len(held)}</div>open grants</div>'
            f'<div class="card"><div class="n">{sum(u.hours for u in usage):.1f}</div>privilege-hours, 30 days</div>'
            f'<div class="card"><div class="n">{count_leases(store, filters)}</div>leases</div>'
            f'<div class="card"><div class="n">{len(trouble)}</div>recent problems</div></div>'
        )
        body = (
            pages.filter_form("/", filters)
            + cards
            + "<h2>Open grants</h2>"
            + pages.table(
                ("Lease", "State", "Role", "Scope", "Principal", "Ends", "Time left"),
                (
                    [
                        pages.lease_link(r["lease_id"]),
                        r["state"],
                        r["role"],
                        r["scope"],
                        r["principal_id"],
                        r["end_at"],
                        pages.time_left(r["end_at"], now),
                    ]
                    for r in held
                ),
                empty="No grant is open.",
            )
            + pages.exports("/open", filters)
            + "<h2>Privilege-hours per principal, last 30 days</h2>"
            + charts.stacked_days("Privilege-hours per day and principal", [(u.day, u.key, u.hours) for u in usage])
            + "<h2>Recent leases</h2>"
            + pages.table(pages.LEASE_HEADERS, pages.lease_rows(recent.rows), empty="No lease matches.")
            + '<p><a href="/leases">All leases →</a></p>'
            + "<h2>Recent problems</h2>"
            + pages.table(pages.PROBLEM_HEADERS, pages.problem_rows(trouble), empty="No problem recorded.")
        )
        return html(pages.document(config.title + " dashboard", body, current="/"))

    def open_export(request: Request) -> Response:
        rows = open_grants(store, _filters(request))
        headers = ("lease_id", "state", "kind", "role", "scope", "principal_id", "end_at", "run")
        return export("open_grants", request.path_params["fmt"], headers, [dict(r) for r in rows])

    def lease_list(request: Request) -> Response:
        filters = _filters(request)
        page = leases(store, filters)
        body = (
            pages.filter_form("/leases", filters, states=_STATES)
            + f'<p class="muted">{count_leases(store, filters)} leases match.</p>'
            + pages.table(pages.LEASE_HEADERS, pages.lease_rows(page.rows), empty="No lease matches.")
            + pages.pager("/leases", filters, page.more)
            + pages.exports("/leases", filters)
        )
        return html(pages.document("Leases", body, current="/leases"))

    def lease_export(request: Request) -> Response:
        filters = _filters(request)
        page = leases(store, filters, page_size=1000)
        headers = (
            "lease_id",
            "state",
            "kind",
            "role",
            "scope",
            "principal_id",
            "mode",
            "created_at",
            "start_at",
            "end_at",
            "justification",
            "ticket",
            "outcome",
            "exit_code",
            "run",
        )
        return export("leases", request.path_params["fmt"], headers, [dict(r) for r in page.rows])

    def lease_page(request: Request) -> Response:
        lease_id, fmt = request.path_params["lease_id"], None
        found = store.find(lease_id)
        if found is None and lease_id.endswith(".json"):
            lease_id, fmt = lease_id[: -len(".json")], "json"
            found = store.find(lease_id)
        if found is None:
            return html(pages.document("Not found", f"<p>No lease {escape(lease_id)}.</p>"), 404)
        events = lease_events(store, lease_id)
        check = check_lease(events, config.keys, pinned=config.pinned, stored_row=stored_lease(store, lease_id))
        if fmt == "json":
            public = [{k: v for k, v in e.items() if k != "body_text"} for e in events]
            return JSONResponse(
                {"lease": dict(found), "events": public, "verification": check.to_json()}, headers=_SECURITY_HEADERS
            )
        run = found.get("run") or {}
        verdict = pages.badge(check.ok, check.summary)
        problems_html = "".join(f"<li>{escape(p)}</li>" for p in check.problems)
        body = (
            f'<h2>Verification</h2><p data-verification="{"ok" if check.ok else "failed"}">{verdict}'
            + (f' <span class="muted">key {escape(check.key_id)}</span>' if check.key_id else "")
            + "</p>"
            + (f"<ul>{problems_html}</ul>" if problems_html else "")
            + "<h2>Lease</h2>"
            + pages.kv_table(
                [
                    ("Lease", found["lease_id"]),
                    ("State", found["state"]),
                    ("Outcome", found["outcome"]),
                    ("Kind", found["kind"]),
                    ("Role", found["role"]),
                    ("Scope", found["scope"]),
                    ("Principal", found["principal_id"]),
                    ("Tenant", found["tenant_id"]),
                    ("Mode", found["mode"]),
                    ("Justification", found["justification"]),
                    ("Ticket", found["ticket"]),
                    ("Start", found["start_at"]),
                    ("End", found["end_at"]),
                    ("Exit code", found["exit_code"]),
                ]
            )
            + "<h2>Provenance</h2>"
            + (
                pages.kv_table(sorted(run.items()))
                if isinstance(run, Mapping) and run
                else '<p class="muted">Not run in CI.</p>'
            )
            + "<h2>Timeline</h2>"
            + pages.table(
                ("Seq", "Event", "At", "Details"),
                ([e["seq"], e["type"], e["at"], pages.pretty_json(e["body"])] for e in events),
            )
            + f'<p class="exports"><a href="/leases/{quote(lease_id, safe="")}.json">JSON</a></p>'
        )
        return html(pages.document(f"Lease {lease_id}", body, current="/leases"))

    def usage_page(request: Request) -> Response:
        filters = _filters(request)
        group = request.query_params.get("group") or "principal"
        if group not in GROUPS:
            group = "principal"
        usage = privilege_hours(store, filters, group=group, now=config.clock())  # type: ignore[arg-type]
        fmt = request.path_params.get("fmt")
        if fmt:
            return export("privilege_hours", fmt, ("day", "key", "hours"), [asdict(u) for u in usage])
        choices = "".join(f"<option{' selected' if g == group else ''}>{g}</option>" for g in GROUPS)
        group_form = (
            '<form class="filters" method="get" action="/usage"><label for="f-group">Per'
            f'<select id="f-group" name="group">{choices}</select></label>'
            + "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in filters.query().items())
            + '<button type="submit">Show</button></form>'
        )
        totals = pages.usage_rows(usage)
        body = (
            pages.filter_form("/usage", filters)
            + group_form
            + charts.bar_chart(f"Privilege-hours per {group}", totals)
            + charts.stacked_days(f"Privilege-hours per day and {group}", [(u.day, u.key, u.hours) for u in usage])
            + pages.table((group.capitalize(), "Hours"), totals, empty="No access was held in this period.")
            + pages.exports("/usage", filters)
        )
        return html(pages.document("Privilege-hours", body, current="/usage"))

    def approvals_page(request: Request) -> Response:
        filters = _filters(request)
        items = approvals(store, filters)
        fmt = request.path_params.get("fmt")
        if fmt:
            headers = (
                "lease_id",
                "role",
                "scope",
                "principal_id",
                "requested_at",
                "decided_at",
                "decision",
                "decided_by",
                "wait_s",
            )
            return export("approvals", fmt, headers, [asdict(a) for a in items])
        body = (
            pages.filter_form("/approvals", filters)
            + pages.table(pages.APPROVAL_HEADERS, pages.approval_rows(items), empty="No request needed approval.")
            + pages.exports("/approvals", filters)
        )
        return html(pages.document("Approvals", body, current="/approvals"))

    def problems_page(request: Request) -> Response:
        filters = _filters(request)
        items = problems(store, filters)
        fmt = request.path_params.get("fmt")
        if fmt:
            return export(
                "problems", fmt, ("lease_id", "category", "at", "role", "scope", "detail"), [asdict(p) for p in items]
            )
        body = (
            pages.filter_form("/problems", filters)
            + pages.table(pages.PROBLEM_HEADERS, pages.problem_rows(items), empty="No problem recorded.")
            + pages.exports("/problems", filters)
        )
        return html(pages.document("Problems", body, current="/problems"))

    def signin_form(request: Request) -> Response:
        error = request.query_params.get("error")
        body = (
            (f'<p class="bad" role="alert">{escape(error)}</p>' if error else "")
            + '<form method="post" action="/signin"><label for="token">Entra access token for this dashboard'
            '<br><textarea id="token" name="token" rows="6" cols="80" autocomplete="off"></textarea></label>'
            '<p><button type="submit">Sign in</button></p></form>'
        )
        return html(pages.document("Sign in", body))

    async def signin(request: Request) -> Response:
        assert config.verifier is not None
        raw = (await request.body())[:65536]
        token = (parse_qs(raw.decode("utf-8", errors="replace")).get("token") or [""])[0].strip()
        try:
            claims = config.verifier.verify(token)
        except AuthError as exc:
            return RedirectResponse("/signin?error=" + quote(exc.message), status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            _COOKIE, sessions.open(claims), httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/", overview),
        Route("/open.{fmt:str}", open_export),
        Route("/leases", lease_list),
        Route("/leases.{fmt:str}", lease_export),
        Route("/leases/{lease_id:path}", lease_page),
        Route("/usage", usage_page),
        Route("/usage.{fmt:str}", usage_page),
        Route("/approvals", approvals_page),
        Route("/approvals.{fmt:str}", approvals_page),
        Route("/problems", problems_page),
        Route("/problems.{fmt:str}", problems_page),
        Route("/healthz", healthz),
    ]
    if config.verifier is not None:
        routes += [Route("/signin", signin_form, methods=["GET"]), Route("/signin", signin, methods=["POST"])]

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in ("GET", "HEAD") and request.url.path != "/signin":
            return PlainTextResponse("the dashboard is read-only", status_code=405)
        if config.verifier is None or request.url.path in ("/signin", "/healthz"):
            return await call_next(request)
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            try:
                config.verifier.verify(bearer[7:].strip())
            except AuthError as exc:
                return JSONResponse(
                    {"error": exc.message},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer error="invalid_token"'},
                )
            return await call_next(request)
        if sessions.principal(request.cookies.get(_COOKIE)) is None:
            return RedirectResponse("/signin", status_code=303)
        return await call_next(request)

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)])
