"""What `diff` reports and `apply` writes: for each entry of the file, the live policy, the settings that
differ, and the rules that would make them match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..model import Target
from ..model.durations import format_duration
from ..providers.base import ProviderContext
from .document import PolicyEntry
from .live import LivePolicy, read_live, write_rules
from .rules import rules_for, settings_from_rules
from .settings import Approver, Expiry, Notice, RoleSettings

__all__ = ["PolicyChange", "apply_changes", "compare", "export_settings", "plain"]


def plain(value: Any) -> Any:
    """A setting's value as plain JSON (durations in jitpim's short form)."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Expiry):
        return {"permanent": value.permanent, "maximum": plain(value.maximum)}
    if isinstance(value, Notice):
        return {
            "level": value.level,
            "default_recipients": value.default_recipients,
            "recipients": list(value.recipients),
        }
    if isinstance(value, Approver):
        return value.to_doc()
    if isinstance(value, frozenset | tuple | list):
        return [plain(v) for v in sorted(value)]
    return value


@dataclass
class PolicyChange:
    entry: PolicyEntry
    live: LivePolicy
    differences: list[tuple[str, Any, Any]]
    rules: list[dict[str, Any]]

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.live.resolved.to_json()["target"],
            "describe": self.live.describe(),
            "policy_id": self.live.policy_id,
            "changes": [
                {"setting": name, "live": plain(have), "wanted": plain(want)} for name, have, want in self.differences
            ],
            "rules": [str(r["id"]) for r in self.rules],
        }


def compare(ctx: ProviderContext, entries: Sequence[PolicyEntry]) -> list[PolicyChange]:
    out = []
    for entry in entries:
        live = read_live(ctx, entry.target)
        current = settings_from_rules(live.rules)
        out.append(
            PolicyChange(
                entry, live, entry.settings.differences(current), rules_for(entry.settings, live.rules, live.api)
            )
        )
    return out


def apply_changes(ctx: ProviderContext, changes: Sequence[PolicyChange]) -> list[PolicyChange]:
    """Write each drifted policy; returns those written. Stops at the first refusal (earlier policies stay
    written: each policy is one unit, and the error names the one that failed)."""
    written = []
    for change in changes:
        if change.rules:
            write_rules(ctx, change.live, change.rules)
            written.append(change)
    return written


def export_settings(ctx: ProviderContext, targets: Sequence[Target]) -> list[tuple[Target, RoleSettings]]:
    return [(target, settings_from_rules(read_live(ctx, target).rules)) for target in targets]
