"""The world as the control plane shows it: a JSON dump of the emulator's state."""

from __future__ import annotations

from typing import Any

from ....core.clock import format_time
from ....core.world import World

__all__ = ["dump"]


def dump(w: World, faults: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the emulator holds, as JSON: assignments, memberships, each service's state (never a secret
    value), the audit row count and the fault rules."""
    now = w.clock.now()
    directory = w.directory
    data: dict[str, Any] = {
        "now": format_time(now),
        "clock_offset_seconds": w.clock.offset.total_seconds(),
        "tenant_id": w.tenant_id,
        "subscription_id": w.subscription_id,
        "settings": vars(w.settings),
        "directory_role_assignments": [
            {
                "id": a.id,
                "principal_id": a.principal_id,
                "role_definition_id": a.role_definition_id,
                "role": directory.role_definitions[a.role_definition_id].display_name
                if a.role_definition_id in directory.role_definitions
                else None,
                "directory_scope_id": a.directory_scope_id,
                "source": a.source,
                "start": format_time(a.start),
                "end": format_time(a.end),
                "active": a.active(now),
            }
            for a in directory.role_assignments
        ],
        "group_memberships": [
            {
                "group_id": g.object_id,
                "group": g.display_name,
                "principal_id": pid,
                "access": access,
                "source": m.source,
                "start": format_time(m.start),
                "end": format_time(m.end),
                "active": m.active(now),
            }
            for g in directory.groups.values()
            for access, table in (("member", g.members), ("owner", g.owners))
            for pid, m in table.items()
        ],
        "role_assignments": [
            {
                "id": a.id,
                "name": a.name,
                "scope": a.scope,
                "role_definition_id": a.role_definition_id,
                "role": w.rbac.definitions[a.role_definition_id].role_name
                if a.role_definition_id in w.rbac.definitions
                else None,
                "principal_id": a.principal_id,
                "created_on": format_time(a.created_on),
                "end": format_time(a.end),
                "effective": a.effective(now, w.rbac.propagation),
                "schedule_id": a.schedule_id,
            }
            for a in w.rbac.assignments.values()
        ],
        "audit_rows": len(w.audit.rows),
        "faults": faults,
    }
    for name, state in w.services().items():
        dump = getattr(state, "dump", None)
        if callable(dump):
            data[name] = dump(now)
    return data
