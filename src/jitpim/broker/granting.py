"""Granting and releasing with the broker's own identity, through the same providers and lifecycle as
`jitpim elevate` / `jitpim release`: the ledger's write-ahead record, idempotent grants, recovery of lost
responses, release verification and the audit chain all apply unchanged.

What differs is who receives the access: the job's own principal (from the broker's repository binding),
not the broker: `jitpim.api.AccessRequest(on_behalf_of=...)` (see `jitpim.lifecycle.on_behalf`), where
"effective" means the grant is in force at the source, which is what the broker can observe with its own
identity (the job then uses the access with its own federated credential).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..cloud import CloudProfile
from ..model import Mode, RunContext, Target

__all__ = ["GrantResult", "Granter", "run_context"]


def run_context(claims: Mapping[str, Any]) -> RunContext:
    """Provenance from the verified token claims (never from the job's environment variables)."""

    def text(name: str) -> str | None:
        value = claims.get(name)
        return str(value) if value not in (None, "") else None

    def number(name: str) -> int | None:
        value = text(name)
        return int(value) if value is not None and value.isdigit() else None

    ref = text("ref") or ""
    pr = int(ref.split("/")[2]) if ref.startswith("refs/pull/") and ref.split("/")[2].isdigit() else None
    return RunContext(
        repository=text("repository"),
        ref=text("ref"),
        sha=text("sha"),
        workflow=text("workflow"),
        job=text("job_workflow_ref"),
        run_id=text("run_id"),
        run_attempt=number("run_attempt"),
        run_number=number("run_number"),
        actor=text("actor"),
        event_name=text("event_name"),
        pr_number=pr,
        environment=text("environment"),
        server_url="https://github.com",
    )


@dataclass(frozen=True)
class GrantResult:
    lease_id: str
    state: str
    end_at: datetime | None
    grant: dict[str, Any]
    resolved: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "state": self.state,
            "end_at": self.end_at.isoformat() if self.end_at else None,
            "grant": self.grant,
            "target": self.resolved,
        }


class Granter:
    """Grants and releases as the broker's identity (credentials from `environ`: a managed identity in Azure,
    a client secret or workload identity elsewhere, an emulator principal in tests), through `jitpim.api`
    only: `elevate` on behalf of the job's principal, `release` by lease id."""

    def __init__(
        self,
        cloud: CloudProfile,
        ledger_location: str,
        *,
        environ: Mapping[str, str],
        clock: Any = None,
        effective_timeout: timedelta = timedelta(minutes=10),
        poll_initial: float = 1.0,
    ) -> None:
        from ..api import Settings
        from ..audit.store import open_store
        from ..lifecycle import LifecycleOptions, SystemClock

        self.cloud = cloud
        self.clock = clock or SystemClock()
        self.environ = dict(environ)
        self.ledger: Any = open_store(ledger_location, environ=self.environ, clock=self.clock.now)
        self.options = LifecycleOptions(
            mode=Mode.DIRECT,
            wait_for_start=False,
            effective_timeout=effective_timeout,
            early_release="expire",
            poll_initial=poll_initial,
        )
        self.settings = dataclasses.replace(
            Settings.from_environ(self.environ), mode=Mode.DIRECT, ledger=ledger_location, lifecycle=self.options
        )

    def _runtime(self, claims: Mapping[str, Any]) -> Any:
        from ..api import Runtime

        return Runtime.open(self.settings, clock=self.clock, run=run_context(claims), ledger=self.ledger)

    def grant(
        self,
        target: Target,
        *,
        principal_id: str,
        claims: Mapping[str, Any],
        details: Mapping[str, Any],
    ) -> GrantResult:
        """Grant `target` to `principal_id`, wait until it is in force, and leave it held by the broker.
        Raises the lifecycle's errors (policy, provider, not effective); on failure nothing stays granted."""
        from .. import api

        options = dataclasses.replace(self.options, default_duration=target.duration or self.options.default_duration)
        with self._runtime(claims) as rt:
            result = api.elevate(rt, api.AccessRequest((target,), options=options, on_behalf_of=principal_id))
        held = result.held[0]
        self.ledger.append_event(held.lease_id, "broker.decided", dict(details))
        return GrantResult(
            held.lease_id, str(held.state), held.grant.end_at, held.grant.to_json(), held.resolved.to_json()
        )

    def release(self, lease_id: str, reason: str, claims: Mapping[str, Any] | None = None) -> str:
        """Release a lease the broker holds; returns the outcome (released, already_gone, left_to_expire,
        failed). A lease already ended in the ledger is `already_gone`."""
        from .. import api

        record = self.ledger.find(lease_id)
        if record is None or record["state"] in ("released", "expired", "failed"):
            return "already_gone"
        with self._runtime(claims or {}) as rt:
            result = api.release(rt, api.ReleaseRequest(lease_ids=(lease_id,), early_release="expire"))
        row = result.rows[0]
        if row.failed:
            return "failed"
        return str(row.report.outcome) if row.report is not None else "already_gone"

    def release_landed(self, principal_id: str, claims: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
        """Release what a grant that never reported back may have left: open broker-held leases in the ledger
        for this principal, run and target (the replica granting it stopped). Returns their lease ids."""
        run_id = claims.get("run_id")
        found = []
        for record in self.ledger.open_leases():
            data = record.get("data") or {}
            run = record.get("run") or {}
            if (
                data.get("held_by") == "broker"
                and str(record.get("principal_id") or "").lower() == principal_id.lower()
                and run.get("run_id") == run_id
                and str(record.get("kind")) == str(target.get("kind"))
                and str(record.get("scope") or "").lower() == str(target.get("scope") or "").lower()
            ):
                self.release(record["lease_id"], "the replica granting it stopped", claims)
                found.append(record["lease_id"])
        return found

    def close(self) -> None:
        self.ledger.close()
