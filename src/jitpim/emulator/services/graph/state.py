"""Graph's state in the world: PIM schedules, requests, approvals and policies (`GraphState`).

`attach` seeds the scenario's `eligibilities` of kind `entra-role` (principal, role, scope) and `pim-group`
(principal, group, access), builds the role-management policies from its `policies`, and registers the
clock hook that starts scheduled grants and expires ended ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...core.clock import parse_time
from ...core.directory import ServicePrincipal
from ...core.durations import parse_duration
from ...core.ids import stable_guid
from ...core.scenario import ScenarioError
from ...core.world import World
from .common.graph_resource import GRAPH_APP_ID, GRAPH_SP_NAME
from .pim.lifecycle import on_tick
from .pim.models import Schedule, Target
from .pim.parse import canonical_principal
from .pim.store import GraphState

__all__ = ["GraphState", "attach"]


def attach(world: World) -> None:
    _seed_graph_service_principal(world)
    state = GraphState(world)
    now = world.clock.now()
    state.policies.ensure_all()  # surfaces a bad approver name while the scenario loads
    for i, entry in enumerate(world.scenario.get("eligibilities") or []):
        kind = entry.get("kind")
        if kind == "entra-role":
            _seed(state, _directory_target(world, entry), entry, now, i)
        elif kind == "pim-group":
            _seed(state, _group_target(world, entry), entry, now, i)
    world.attach("graph", state)
    world.on_tick(lambda when: on_tick(state, when))


def _seed_graph_service_principal(world: World) -> None:
    """Every tenant has a service principal for Microsoft Graph: the resource its app permissions name."""
    if not any(sp.app_id == GRAPH_APP_ID for sp in world.directory.service_principals.values()):
        sp_id = stable_guid(world.tenant_id, "sp", "microsoft-graph")
        world.directory.service_principals[sp_id] = ServicePrincipal(
            sp_id, GRAPH_APP_ID, GRAPH_SP_NAME, created=world.clock.now() - timedelta(days=3650)
        )


def _principal(world: World, entry: dict[str, Any]) -> str:
    name = entry.get("principal")
    found = world.principal_id(str(name)) if name else None
    if found is None:
        raise ScenarioError(f"scenario: eligibility names unknown principal {name!r}")
    return canonical_principal(world, found) or found


def _directory_target(world: World, entry: dict[str, Any]) -> Target:
    role = world.directory.role_definition(str(entry.get("role", "")))
    if role is None:
        raise ScenarioError(f"scenario: eligibility names unknown directory role {entry.get('role')!r}")
    return Target("directory", _principal(world, entry), role.id, str(entry.get("scope") or "/"))


def _group_target(world: World, entry: dict[str, Any]) -> Target:
    name = str(entry.get("group", ""))
    group_id = world.principal_id(name)
    if group_id is None or group_id not in world.directory.groups:
        raise ScenarioError(f"scenario: pim-group eligibility names unknown group {name!r}")
    access = str(entry.get("access") or "member").lower()
    if access not in ("member", "owner"):
        raise ScenarioError(f"scenario: pim-group eligibility access must be member or owner, not {access!r}")
    return Target("group", _principal(world, entry), group_id, access)


def _seed(state: GraphState, target: Target, entry: dict[str, Any], now: datetime, index: int) -> None:
    """A standing eligibility as an administrator's earlier adminAssign would have left it."""
    created = now - timedelta(days=30)
    end: datetime | None = None
    expiration, duration = "noExpiration", None
    try:
        if entry.get("duration"):
            duration = str(entry["duration"])
            end, expiration = now + parse_duration(duration), "afterDuration"
        elif entry.get("end"):
            end, expiration = parse_time(str(entry["end"])), "afterDateTime"
    except ValueError as exc:
        raise ScenarioError(f"scenario: eligibility {index}: {exc}") from None
    guid = stable_guid(
        state.world.tenant_id, "eligibility", str(index), target.principal_id, target.resource_id, target.scope
    )
    schedule_id = guid if target.kind == "directory" else f"{target.resource_id}_{target.scope}_{guid}"
    state.schedules[schedule_id] = Schedule(
        id=schedule_id,
        level="eligibility",
        target=target,
        start=now if end is not None and expiration == "afterDuration" else created,
        end=end,
        expiration_type=expiration,
        duration=duration,
        created=created,
        created_using=guid,
        modified=created,
        state="active",
    )
