"""Granting and releasing with the broker's own identity, through the same providers and lifecycle as
`jitpim elevate` / `jitpim release`: the ledger's write-ahead record, idempotent grants, recovery of lost
responses, release verification and the audit chain all apply unchanged.

What differs is who receives the access: the job's own principal (from the broker's repository binding),
not the broker. `OnBehalfProvider` wraps each provider so that the resolved principal is the job's, and so
that "effective" means the grant is in force at the source, which is what the broker can observe with its
own identity (the job then uses the access with its own federated credential).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from ..cloud import CloudProfile
from ..model import Mode, RunContext, Target
from ..providers import Grant, Provider, ProviderContext, ResolvedTarget, get_provider

__all__ = ["GrantResult", "Granter", "OnBehalfProvider", "run_context"]


class OnBehalfProvider:
    """A provider acting for `principal_id`: resolution names that principal, and the probe checks the grant
    is in force at the source (the broker cannot use the job's access to try it). Every other step is the
    wrapped provider's own, unchanged (delegated by name, so new provider steps pass through)."""

    def __init__(self, inner: Provider, principal_id: str) -> None:
        self.inner = inner
        self.principal_id = principal_id
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        return dataclasses.replace(self.inner.resolve(target, ctx), principal_id=self.principal_id)

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        return self.inner.find_existing(resolved, ctx) is not None

    @classmethod
    def wrap(cls, inner: Provider, principal_id: str) -> Provider:
        return cast("Provider", cls(inner, principal_id))


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
    a client secret or workload identity elsewhere, an emulator principal in tests)."""

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
        from ..audit.store import open_store
        from ..lifecycle import LifecycleOptions, Session, SystemClock

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
        self._session_factory: Callable[[], Any] = lambda: Session(cloud, Mode.DIRECT, self.clock, environ=self.environ)

    def identity(self) -> Any:
        session = self._session_factory()
        try:
            return session.identity()
        finally:
            session.close()

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
        from ..lifecycle import Elevation, SignalGuard, Timeline, make_plan

        options = dataclasses.replace(self.options, default_duration=target.duration or self.options.default_duration)
        session = self._session_factory()
        try:
            plan = make_plan(
                [target],
                contexts=session.context,
                options=options,
                clock=self.clock,
                provider_for=lambda kind: OnBehalfProvider.wrap(get_provider(kind), principal_id),
            )
            guard = SignalGuard()
            elevation = Elevation(
                plan, self.ledger, run_context(claims), self.clock, options, Timeline(), guard=guard, held_by="broker"
            )
            elevation.__enter__()  # on failure it releases what it granted and raises
            held = elevation.detach()[0]
            self.ledger.append_event(held.lease_id, "broker.decided", dict(details))
            return GrantResult(
                held.lease_id, str(held.state), held.grant.end_at, held.grant.to_json(), held.resolved.to_json()
            )
        finally:
            session.close()

    def release(self, lease_id: str, reason: str) -> str:
        """Release a lease the broker holds; returns the outcome (released, already_gone, left_to_expire,
        failed). A lease already ended in the ledger is `already_gone`."""
        from ..lifecycle import Releaser, Timeline, held_from_record

        record = self.ledger.find(lease_id)
        if record is None or record["state"] in ("released", "expired", "failed"):
            return "already_gone"
        session = self._session_factory()
        try:
            held = held_from_record(record, session.context)
            report = Releaser(self.ledger, self.clock, self.options, Timeline()).release(held)
            return str(report.outcome)
        finally:
            session.close()

    def close(self) -> None:
        self.ledger.close()
