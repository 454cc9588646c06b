"""`jitpim audit report --html`: one self-contained HTML file for a run's evidence file or a whole ledger.

The file embeds its styles and draws its charts as inline SVG; it loads nothing (its Content-Security-Policy
forbids every remote resource and all script), so it opens offline and shows the same thing years later.
It carries the verification result as it stood when the report was written, the provenance of each lease,
a timeline of every lifecycle event, and privilege-hours per role and per principal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from jitpim.audit.verify import VerifyReport

from . import charts, pages
from .queries import held_interval

__all__ = ["evidence_records", "render_report"]


def evidence_records(path: Path) -> list[dict[str, Any]]:
    """The summary records of an evidence file (lines that carry a `record`), in file order."""
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                item = json.loads(line)
            except ValueError:
                continue  # verification names the broken line; the report shows what it can read
            record = item.get("record") if isinstance(item, Mapping) else None
            if isinstance(record, Mapping) and "lease_id" in record:
                out.append(dict(record))
    return out


def _interval(record: Mapping[str, Any], now: datetime) -> float:
    times = record.get("times") or {}
    released = times.get("released_at") or times.get("failed_at")
    lease = {
        "state": record.get("state"),
        "start_at": times.get("start_at") or times.get("granted_at"),
        "end_at": times.get("end_at"),
        "updated_at": released or times.get("updated_at"),
    }
    held = held_interval(lease, now)
    return 0.0 if held is None else (held[1] - held[0]).total_seconds() / 3600


def render_report(
    records: Sequence[Mapping[str, Any]],
    verification: VerifyReport,
    *,
    source: str,
    now: datetime | None = None,
) -> str:
    moment = now or datetime.now(UTC)
    by_role: dict[str, float] = {}
    by_principal: dict[str, float] = {}
    for record in records:
        hours = _interval(record, moment)
        role = str((record.get("target") or {}).get("role") or "(unknown)")
        principal = str((record.get("principal") or {}).get("id") or "(unknown)")
        by_role[role] = by_role.get(role, 0.0) + hours
        by_principal[principal] = by_principal.get(principal, 0.0) + hours
    problem = verification.problem
    verdict = pages.badge(verification.ok, "verified" if verification.ok else "verification FAILED")
    trust = "" if verification.trusted else " (checked only against keys embedded in the file: pin a key)"
    summary = (
        f'<p data-verification="{"ok" if verification.ok else "failed"}">{verdict}{escape(trust)}</p>'
        + pages.kv_table(
            [
                ("Source", source),
                ("Checked", f"{verification.checked} {'records' if verification.kind == 'evidence' else 'events'}"),
                ("Signatures verified", verification.signatures),
                ("Keys", ", ".join(verification.key_ids)),
                ("First problem", f"{problem.where}: {problem.message}" if problem else None),
                ("Report written", moment.strftime("%Y-%m-%d %H:%M:%SZ")),
            ]
        )
    )
    leases_html = []
    for record in records:
        target = record.get("target") or {}
        run = record.get("run") or {}
        events = record.get("events") or []
        leases_html.append(
            f"<section><h3>{escape(str(record.get('lease_id')))}</h3>"
            + pages.kv_table(
                [
                    ("State", record.get("state")),
                    ("Outcome", record.get("outcome")),
                    ("Target", f"{target.get('kind')} · {target.get('role')} · {target.get('scope')}"),
                    ("Principal", (record.get("principal") or {}).get("id")),
                    ("Justification", record.get("justification")),
                    ("Ticket", record.get("ticket")),
                    ("Exit code", record.get("exit_code")),
                ]
            )
            + ("<h4>Provenance</h4>" + pages.kv_table(sorted(run.items())) if isinstance(run, Mapping) and run else "")
            + "<h4>Timeline</h4>"
            + pages.table(
                ("Seq", "Event", "At"),
                ([e.get("seq"), e.get("type"), e.get("at")] for e in events if isinstance(e, Mapping)),
            )
            + "</section>"
        )
    body = (
        "<h2>Verification</h2>"
        + summary
        + "<h2>Privilege-hours</h2>"
        + charts.bar_chart("Privilege-hours per role", list(by_role.items()))
        + charts.bar_chart("Privilege-hours per principal", list(by_principal.items()))
        + f"<h2>Leases ({len(records)})</h2>"
        + ("".join(leases_html) or '<p class="muted">No lease record.</p>')
    )
    return pages.document("Evidence report", body, subtitle=source)
