"""Evaluating a request against the policy set and explaining the outcome.

Cedar answers allow or deny and names the policies that determined it. The broker turns that into one of
four outcomes: a satisfied forbid (or no satisfied permit: the default deny) is FORBID; among satisfied
permits, break-glass wins (an emergency is not held for approval), then the strictest approval rule (the
most approvers; the shortest timeout), and only when no satisfied permit asks for approval is it PERMIT.
"""

from __future__ import annotations

from typing import Any

from .decision import ApprovalRule, Outcome, PolicyDecision
from .loading import LoadedPolicy, PolicySet, _cedar
from .request import AccessRequest

__all__ = ["evaluate"]


def _claims(policy: LoadedPolicy | None, request: AccessRequest) -> dict[str, Any]:
    if policy is None:
        return {"principal.repository": request.claims.get("repository"), "principal.sub": request.principal_id}
    return {path: request.value_of(path) for path in policy.reads}


def _strictest(rules: list[ApprovalRule]) -> ApprovalRule:
    top = max(rules, key=lambda rule: rule.count)
    return ApprovalRule(top.count, top.group, min(rule.timeout for rule in rules))


def evaluate(policies: PolicySet, request: AccessRequest) -> PolicyDecision:
    cedarpy = _cedar()
    cedar_request, entities = request.cedar()
    result = cedarpy.is_authorized(cedar_request, policies.handle or policies.text, entities)
    reasons = [policies.policies[r] for r in result.diagnostics.reasons if r in policies.policies]
    errors = tuple(str(e) for e in result.diagnostics.errors)
    version = policies.version
    if not result.allowed:
        forbids = [p for p in reasons if p.effect == "forbid"]
        if forbids:
            deciding = forbids[0]
            return PolicyDecision(
                Outcome.FORBID,
                deciding.policy_id,
                _claims(deciding, request),
                f"forbidden by policy {deciding.policy_id!r}",
                tuple(p.policy_id for p in forbids),
                errors=errors,
                policy_version=version,
            )
        return PolicyDecision(
            Outcome.FORBID,
            None,
            _claims(None, request),
            "no policy permits this request (Cedar denies by default)",
            errors=errors,
            policy_version=version,
        )
    permits = [p for p in reasons if p.effect == "permit"]
    ids = tuple(p.policy_id for p in permits)
    glass = [p for p in permits if p.break_glass]
    if glass:
        deciding = glass[0]
        return PolicyDecision(
            Outcome.BREAK_GLASS,
            deciding.policy_id,
            _claims(deciding, request),
            f"break-glass by policy {deciding.policy_id!r}: granted at once and marked for review",
            ids,
            errors=errors,
            policy_version=version,
        )
    needing = [p for p in permits if p.approval is not None]
    if needing:
        rule = _strictest([p.approval for p in needing if p.approval is not None])
        deciding = next(p for p in needing if p.approval is not None and p.approval.count == rule.count)
        return PolicyDecision(
            Outcome.APPROVAL_REQUIRED,
            deciding.policy_id,
            _claims(deciding, request),
            f"policy {deciding.policy_id!r} requires {rule.count} approval(s) from {rule.group!r}",
            ids,
            approval=rule,
            errors=errors,
            policy_version=version,
        )
    deciding = permits[0]
    return PolicyDecision(
        Outcome.PERMIT,
        deciding.policy_id,
        _claims(deciding, request),
        f"permitted by policy {deciding.policy_id!r}",
        ids,
        errors=errors,
        policy_version=version,
    )
