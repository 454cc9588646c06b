"""A deployment and its operations as the emulator keeps them.

A deployment moves `Accepted` -> `Running` -> `Succeeded` | `Failed` on the emulator's clock ticks (one step per
tick; a tick runs before every request), so a client polling it sees what ARM shows: Accepted, then Running,
then the end state. The deployer's identity is kept for the run: each resource is written with its rights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ....core.tokens import Caller
from ..template_language.template import Plan

__all__ = ["Deployment", "DeploymentOperation", "DeploymentStore"]

TERMINAL = ("Succeeded", "Failed", "Canceled")


@dataclass
class DeploymentOperation:
    operation_id: str
    provisioning_operation: str  # Create | Read | ...
    state: str  # Succeeded | Failed
    timestamp: datetime
    status_code: str  # Created | OK | Forbidden | BadRequest | ...
    target_id: str
    target_type: str
    target_name: str
    error: dict[str, Any] | None = None


@dataclass
class Deployment:
    id: str
    name: str
    scope: str
    location: str | None
    template: dict[str, Any]
    given_parameters: dict[str, Any]
    plan: Plan
    caller: Caller
    mode: str
    correlation_id: str
    operation_id: str  # the asynchronous operation's id (Azure-AsyncOperation)
    created: datetime
    state: str = "Accepted"
    timestamp: datetime | None = None
    finished: datetime | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    output_resources: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    operations: list[DeploymentOperation] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    nested: bool = False  # run by its parent deployment, never by the clock

    @property
    def done(self) -> bool:
        return self.state in TERMINAL


class DeploymentStore:
    """Deployments by lower-cased id; `tick` steps the unfinished ones (registered on the world's clock)."""

    def __init__(self) -> None:
        self.deployments: dict[str, Deployment] = {}
        self.what_ifs: dict[str, dict[str, Any]] = {}  # operation result token -> what-if result

    def dump(self, now: datetime) -> dict[str, Any]:
        """The control plane's view: ids, states and error codes (never parameter values)."""
        return {
            "deployments": [
                {
                    "id": d.id,
                    "state": d.state,
                    "error": (d.error or {}).get("code"),
                    "operations": [{"target": o.target_id, "status": o.status_code} for o in d.operations],
                }
                for d in self.deployments.values()
            ]
        }
