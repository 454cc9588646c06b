"""The Cedar request a broker decision is made on, built only from verified facts.

    principal  Jitpim::Workload::"<sub>"   the GitHub job; attributes = its verified OIDC claims
    action     Jitpim::Action::"request"
    resource   Jitpim::Target::"<kind>:<role>@<scope>"   attributes kind, role, scope, tenant
    context    duration_minutes, justification, ticket, has_ticket, ticket_system, break_glass,
               now (epoch seconds), hour (0-23, UTC), weekday ("mon".."sun"), date ("YYYY-MM-DD")

Every claim attribute is always present (an absent claim is the empty string, `pull_request` is a boolean),
so a policy reading `principal.environment` never fails to evaluate on a job that has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CLAIM_ATTRIBUTES", "AccessRequest"]

# The GitHub Actions OIDC claims a policy may read (the real claim names).
CLAIM_ATTRIBUTES = (
    "sub",
    "repository",
    "repository_owner",
    "repository_id",
    "repository_visibility",
    "ref",
    "ref_type",
    "sha",
    "environment",
    "workflow",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
    "actor",
    "actor_id",
    "run_id",
    "run_attempt",
    "runner_environment",
    "base_ref",
    "head_ref",
)
_PULL_REF = re.compile(r"^refs/pull/(\d+)/")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class AccessRequest:
    """A request as the policy sees it: verified claims, the target, duration, justification, ticket, time."""

    claims: Mapping[str, Any]
    kind: str
    role: str
    scope: str
    duration: timedelta
    now: datetime
    justification: str = ""
    ticket: str = ""
    tenant: str = ""
    break_glass: bool = False
    extra_context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def principal_id(self) -> str:
        return str(self.claims.get("sub") or "")

    @property
    def pull_request(self) -> bool:
        event = str(self.claims.get("event_name") or "")
        return event.startswith("pull_request") or bool(_PULL_REF.match(str(self.claims.get("ref") or "")))

    def principal_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {name: str(self.claims.get(name) or "") for name in CLAIM_ATTRIBUTES}
        attrs["pull_request"] = self.pull_request
        return attrs

    def resource_id(self) -> str:
        return f"{self.kind}:{self.role}@{self.scope}"

    def resource_attrs(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role, "scope": self.scope, "tenant": self.tenant}

    def context(self) -> dict[str, Any]:
        now = self.now.astimezone(UTC)
        system, _, _number = self.ticket.partition(":")
        context: dict[str, Any] = {
            "duration_minutes": int(self.duration.total_seconds() // 60),
            "justification": self.justification,
            "ticket": self.ticket,
            "has_ticket": bool(self.ticket),
            "ticket_system": system if _number else "",
            "break_glass": self.break_glass,
            "now": int(now.timestamp()),
            "hour": now.hour,
            "weekday": _WEEKDAYS[now.weekday()],
            "date": now.date().isoformat(),
        }
        context.update(self.extra_context)
        return context

    def cedar(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(request, entities) for cedarpy, in the structured form (ids may hold any character)."""
        principal = {"type": "Jitpim::Workload", "id": self.principal_id}
        resource = {"type": "Jitpim::Target", "id": self.resource_id()}
        request = {
            "principal": principal,
            "action": {"type": "Jitpim::Action", "id": "request"},
            "resource": resource,
            "context": self.context(),
        }
        entities = [
            {"uid": principal, "attrs": self.principal_attrs(), "parents": []},
            {"uid": resource, "attrs": self.resource_attrs(), "parents": []},
        ]
        return request, entities

    def value_of(self, path: str) -> Any:
        """The value an attribute path (`principal.ref`, `context.hour`, `resource.id`) had in this request."""
        var, _, attr = path.partition(".")
        if var == "principal":
            return self.principal_id if attr == "id" else self.principal_attrs().get(attr)
        if var == "resource":
            return self.resource_id() if attr == "id" else self.resource_attrs().get(attr)
        if var == "context":
            return self.context().get(attr)
        return None
