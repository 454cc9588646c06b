"""State of the emulated Azure Monitor Logs Ingestion API: data collection rules and the rows they took in.

Scenario section (optional):

    monitor:
      data_collection_rules:
        - name: jitpim-audit
          resource_group: rg-payments            # default: the first resource group
          immutable_id: dcr-0123456789abcdef0123456789abcdef   # default: derived from the name
          streams: [Custom-JitpimAudit_CL]
          publishers: [ci-app]                   # granted Monitoring Metrics Publisher on the rule

Without the section, one rule named `jitpim-audit` with the stream `Custom-JitpimAudit_CL` exists and nobody
may publish to it until granted *Monitoring Metrics Publisher* (id 3913510d-42f4-4e42-8a64-420c390055eb,
data action `Microsoft.Insights/Telemetry/Write`) on it, as in Azure. Each rule is also an ARM resource
(`Microsoft.Insights/dataCollectionRules`), so role assignments can be made on it through ARM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from ...core.clock import format_time
from ...core.ids import stable_guid
from ...core.rbac import RoleAssignment, RoleDefinition
from ...core.scenario import ScenarioError
from ...core.world import ArmResource, World

__all__ = [
    "METRICS_PUBLISHER_ROLE_ID",
    "TELEMETRY_WRITE",
    "DataCollectionRule",
    "IngestedRow",
    "MonitorState",
    "attach",
]

METRICS_PUBLISHER_ROLE_ID: Final = "3913510d-42f4-4e42-8a64-420c390055eb"
TELEMETRY_WRITE: Final = "Microsoft.Insights/Telemetry/Write"
_DEFAULT_RULE: Final = {"name": "jitpim-audit", "streams": ["Custom-JitpimAudit_CL"], "publishers": []}


@dataclass
class DataCollectionRule:
    name: str
    immutable_id: str
    resource_id: str
    streams: tuple[str, ...]

    def stream(self, name: str) -> str | None:
        """The declared stream matching `name` (stream names are case-insensitive)."""
        return next((s for s in self.streams if s.lower() == name.lower()), None)


@dataclass
class IngestedRow:
    rule: str
    stream: str
    received_at: datetime
    caller: str
    row: dict[str, Any]


@dataclass
class MonitorState:
    world: World
    rules: dict[str, DataCollectionRule] = field(default_factory=dict)  # by lower-cased immutable id
    rows: list[IngestedRow] = field(default_factory=list)

    def rule(self, immutable_id: str) -> DataCollectionRule | None:
        return self.rules.get(immutable_id.lower())

    def dump(self, now: datetime) -> dict[str, Any]:
        return {
            "endpoint": self.world.base_url,
            "data_collection_rules": [
                {
                    "name": r.name,
                    "immutable_id": r.immutable_id,
                    "resource_id": r.resource_id,
                    "streams": list(r.streams),
                }
                for r in self.rules.values()
            ],
            "ingested": [
                {
                    "rule": row.rule,
                    "stream": row.stream,
                    "received_at": format_time(row.received_at),
                    "caller": row.caller,
                    "row": row.row,
                }
                for row in self.rows
            ],
        }


def _publisher_role() -> RoleDefinition:
    return RoleDefinition(
        id=METRICS_PUBLISHER_ROLE_ID,
        role_name="Monitoring Metrics Publisher",
        description="Enables publishing metrics against Azure resources",
        actions=[
            "Microsoft.Insights/Register/Action",
            "Microsoft.Support/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions=[],
        data_actions=["Microsoft.Insights/Metrics/Write", "Microsoft.Insights/Telemetry/Write"],
        not_data_actions=[],
    )


def _seed_rule(world: World, entry: dict[str, Any], now: datetime) -> DataCollectionRule:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError("scenario: monitor.data_collection_rules[] needs a 'name'")
    groups = [g.get("name") for g in world.scenario.get("resource_groups") or []]
    resource_group = entry.get("resource_group") or (groups[0] if groups else "rg-monitor")
    immutable_id = entry.get("immutable_id") or "dcr-" + stable_guid(world.tenant_id, "dcr", name).replace("-", "")
    streams = entry.get("streams") or ["Custom-JitpimAudit_CL"]
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise ScenarioError(f"scenario: data collection rule {name!r}: 'streams' must be a list of names")
    resource_id = (
        f"/subscriptions/{world.subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Insights/dataCollectionRules/{name}"
    )
    world.add_resource(
        ArmResource(
            resource_id,
            "Microsoft.Insights/dataCollectionRules",
            name,
            entry.get("location", "westeurope"),
            {"immutableId": immutable_id, "provisioningState": "Succeeded"},
        )
    )
    for publisher in entry.get("publishers") or []:
        principal = world.principal_id(publisher)
        if principal is None:
            raise ScenarioError(f"scenario: data collection rule {name!r} names unknown publisher {publisher!r}")
        assignment = RoleAssignment(
            name=stable_guid(resource_id, publisher, "publisher"),
            scope=resource_id,
            role_definition_id=METRICS_PUBLISHER_ROLE_ID,
            principal_id=principal,
            principal_type="ServicePrincipal" if principal in world.directory.service_principals else "User",
            created_on=now - timedelta(days=30),
        )
        world.rbac.assignments[assignment.name.lower()] = assignment
    return DataCollectionRule(name, immutable_id, resource_id, tuple(streams))


def attach(world: World) -> None:
    state = MonitorState(world)
    now = world.clock.now()
    world.rbac.definitions.setdefault(METRICS_PUBLISHER_ROLE_ID, _publisher_role())
    section = world.scenario.get("monitor") or {}
    if not isinstance(section, dict):
        raise ScenarioError("scenario: 'monitor' must be a mapping")
    entries = section.get("data_collection_rules")
    for entry in entries if entries is not None else [dict(_DEFAULT_RULE)]:
        if not isinstance(entry, dict):
            raise ScenarioError("scenario: each monitor.data_collection_rules entry must be a mapping")
        rule = _seed_rule(world, entry, now)
        state.rules[rule.immutable_id.lower()] = rule
    world.attach("monitor", state)
