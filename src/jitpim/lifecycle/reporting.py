"""How the lifecycle tells people (and timelines) what is happening, without depending on the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Reporter", "Step", "Timeline"]


class Reporter(Protocol):
    """**Protocol:** receives each step of a lifecycle as it happens."""

    def step(self, step: Step) -> None: ...


@dataclass(frozen=True)
class Step:
    at: datetime
    name: str  # e.g. "plan", "granted", "waiting", "effective", "child", "released"
    message: str
    lease_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "step": self.name,
            "message": self.message,
            "lease_id": self.lease_id,
            **({"data": self.data} if self.data else {}),
        }


@dataclass
class Timeline:
    """A Reporter that keeps every step (for `--output json`, the demo's timeline, and tests) and forwards
    each one to an optional live reporter (progress on a terminal)."""

    live: Reporter | None = None
    steps: list[Step] = field(default_factory=list)

    def step(self, step: Step) -> None:
        self.steps.append(step)
        if self.live is not None:
            self.live.step(step)
