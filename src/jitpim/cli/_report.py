"""Reporting leases: a short text summary, and GitHub Actions outputs and step summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ci.github import GitHubActions
    from ..lifecycle import ReleaseReport

__all__ = ["github_report", "summary_text"]


def summary_text(leases: Sequence[dict[str, Any]], releases: Sequence[ReleaseReport], exit_code: int | None) -> str:
    lines = []
    outcomes = {r.lease_id: str(r.outcome) for r in releases}
    for lease in leases:
        target = lease["target"]
        lines.append(
            f"lease {lease['lease_id']}: {target['target']['kind']} {target['role_name']!r} on "
            f"{target['scope_name']} -> {outcomes.get(lease['lease_id'], lease.get('state'))}"
        )
    if exit_code is not None:
        lines.append(f"exit code {exit_code}")
    return "\n".join(lines)


def github_report(
    github: GitHubActions,
    title: str,
    leases: Sequence[dict[str, Any]],
    releases: Sequence[ReleaseReport],
    exit_code: int | None,
) -> None:
    """Outputs `lease-ids`, `lease-end`, `exit-code` and a step-summary table (no-ops outside Actions)."""
    if not github.active:
        return
    ids = [lease["lease_id"] for lease in leases]
    ends = [lease["grant"]["end_at"] for lease in leases if lease["grant"].get("end_at")]
    github.set_output("lease-ids", ",".join(ids))
    if ends:
        github.set_output("lease-end", min(ends))
    if exit_code is not None:
        github.set_output("exit-code", str(exit_code))
    outcomes = {r.lease_id: str(r.outcome) for r in releases}
    rows = ["| lease | target | role | scope | until | release |", "|---|---|---|---|---|---|"]
    for lease in leases:
        t = lease["target"]
        rows.append(
            f"| `{lease['lease_id']}` | {t['target']['kind']} | {t['role_name']} | {t['scope_name']} | "
            f"{lease['grant'].get('end_at') or '-'} | {outcomes.get(lease['lease_id'], lease.get('state'))} |"
        )
    github.add_summary(f"### {title}\n\n" + "\n".join(rows) + "\n")
