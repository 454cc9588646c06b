"""Planning: resolve each target, read its PIM policy, decide (validate and clamp), and run the provider's
pre-flight checks. Nothing is changed in Azure or in the ledger."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import JitError, NotEligibleError, PolicyDeniedError
from ..model import Decision, Mode, PolicyView, Reason, ReasonCode, Target, TargetKind, evaluate
from ..providers import Grant, Provider, ProviderContext, ResolvedTarget, get_provider
from .sharing import ReuseChoice, reuse_choice
from .waiting import Clock

__all__ = ["ContextFactory", "LifecycleOptions", "Plan", "PlannedTarget", "make_plan"]

# Gives the provider context for a target's tenant (None = the default tenant).
ContextFactory = Callable[[str | None], ProviderContext]


@dataclass(frozen=True)
class LifecycleOptions:
    mode: Mode = Mode.DIRECT
    default_duration: timedelta = timedelta(minutes=15)
    # Plain RBAC assignments have no expiry at the source: jitpim's own ceiling (the reaper enforces it).
    rbac_max_duration: timedelta = timedelta(hours=8)
    strict: bool = False  # refuse instead of clamping to the policy maximum
    reuse_existing: bool = True
    approval_timeout: timedelta = timedelta(minutes=30)
    provisioning_timeout: timedelta = timedelta(minutes=5)
    # RBAC can take up to ~10 minutes to propagate.
    effective_timeout: timedelta = timedelta(minutes=10)
    # PIM refuses removal in the first 5 minutes: wait for the window ("wait") or leave it to expire ("expire").
    early_release: str = "wait"
    early_release_max_wait: timedelta = timedelta(minutes=6)
    # A throttled or unanswered removal is asked again until this long after the release began.
    release_deadline: timedelta = timedelta(minutes=10)
    # Cancelled (a signal arrived): GitHub Actions sends SIGKILL ~10 s after its SIGINT. The child gets
    # `child_grace` after the first signal forwarded to it, then its process group is killed; every release
    # wait ends within `cancel_budget` of the first signal.
    child_grace: timedelta = timedelta(seconds=5)
    cancel_budget: timedelta = timedelta(seconds=9)
    # A grant with a later start: `exec` waits for the window to open; `elevate` returns at once.
    wait_for_start: bool = True
    poll_initial: float = 1.0
    poll_maximum: float = 10.0

    def __post_init__(self) -> None:
        if self.early_release not in ("wait", "expire"):
            raise ValueError("early_release must be 'wait' or 'expire'")
        if self.release_deadline <= timedelta(0):
            raise ValueError("release_deadline must be positive")
        if self.child_grace < timedelta(0):
            raise ValueError("child_grace must not be negative")


@dataclass
class PlannedTarget:
    target: Target
    provider: Provider
    ctx: ProviderContext
    resolved: ResolvedTarget
    policy: PolicyView
    decision: Decision
    existing: Grant | None
    # What to do with `existing` (lifecycle.sharing): reuse it, extend it (jitpim's own), or grant anew.
    reuse: ReuseChoice = ReuseChoice.GRANT
    reuse_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_json(),
            "resolved": self.resolved.to_json(),
            "policy": self.policy.to_json(),
            "decision": self.decision.to_json(),
            "existing_grant": self.existing.to_json() if self.existing else None,
            "reuse": {"choice": str(self.reuse), "reason": self.reuse_reason},
        }


@dataclass
class Plan:
    items: list[PlannedTarget]

    @property
    def allowed(self) -> bool:
        return all(item.decision.allowed for item in self.items)

    def raise_for_refusal(self) -> None:
        for item in self.items:
            if not item.decision.allowed:
                try:
                    item.decision.raise_for_refusal()
                except JitError as exc:
                    exc.target = exc.target or item.resolved.describe()
                    raise

    def to_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "targets": [item.to_json() for item in self.items]}


def _with_reasons(decision: Decision, extra: list[Reason]) -> Decision:
    if not extra:
        return decision
    reasons = (*decision.reasons, *extra)
    return dataclasses.replace(
        decision, reasons=reasons, allowed=decision.allowed and not any(r.refuses for r in extra)
    )


def make_plan(
    targets: Sequence[Target],
    *,
    contexts: ContextFactory,
    options: LifecycleOptions,
    clock: Clock,
    provider_for: Callable[[TargetKind], Provider] = get_provider,
) -> Plan:
    items: list[PlannedTarget] = []
    for target in targets:
        ctx = contexts(target.tenant)
        provider = provider_for(target.kind)
        resolved = provider.resolve(target, ctx)
        policy = provider.read_policy(resolved, ctx)
        if target.kind is TargetKind.RBAC and policy.max_duration is None:
            policy = dataclasses.replace(
                policy, max_duration=options.rbac_max_duration, source=policy.source or "jitpim rbac ceiling"
            )
        existing = provider.find_existing(resolved, ctx) if options.reuse_existing else None

        decision = evaluate(
            target,
            policy,
            mode=options.mode,
            now=clock.now(),
            default_duration=options.default_duration,
            has_mfa=ctx.identity.has_mfa,
            strict=options.strict,
        )
        # Reuse only what covers the whole window (lifecycle.sharing); otherwise extend jitpim's own, or grant.
        choice, why = reuse_choice(
            existing,
            start=decision.start,
            end=decision.end,
            principal_id=resolved.principal_id,
            can_extend=options.mode is not Mode.SELF,
            kind=target.kind,
        )
        if choice is ReuseChoice.GRANT:
            existing = None
        elif choice is ReuseChoice.CONFLICT:
            decision = _with_reasons(decision, [Reason(ReasonCode.POLICY_REFUSED, why, None)])
        else:
            verb = "reused" if choice is ReuseChoice.REUSE else "extended and reused"
            notice = Reason(ReasonCode.ALREADY_ACTIVE, f"{why}: it will be {verb}, not granted again", None)
            decision = _with_reasons(decision, [notice])
        if decision.allowed and existing is None:
            try:
                decision = _with_reasons(decision, provider.check(resolved, decision, ctx))
            except PolicyDeniedError as exc:
                rules: list[str | None] = list(exc.rules) or [None]
                decision = _with_reasons(
                    decision, [Reason(ReasonCode.POLICY_REFUSED, exc.message, rule) for rule in rules]
                )
            except NotEligibleError as exc:
                decision = _with_reasons(decision, [Reason(ReasonCode.NOT_ELIGIBLE, exc.message, "EligibilityRule")])
        items.append(PlannedTarget(target, provider, ctx, resolved, policy, decision, existing, choice, why))
    return Plan(items)
