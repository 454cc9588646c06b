"""Policy as code in Cedar over verified claims: who may get which access, automatically, after approval,
as break-glass, or never; every decision names the policy and the claims that decided it.

    policies = load_policies(Path("policies/"))            # ConfigError naming the file on a syntax error
    decision = evaluate(policies, AccessRequest(claims=verified, kind="rbac", role=..., scope=..., ...))
    decision.outcome        # Outcome.PERMIT | APPROVAL_REQUIRED | BREAK_GLASS | FORBID
    decision.policy_id      # the deciding policy's @id
    decision.claims         # {"principal.ref": "refs/heads/main", ...}: what the deciding policy looked at

The entity model (principal `Jitpim::Workload` with the token's claims, action `Jitpim::Action::"request"`,
resource `Jitpim::Target`, and the context) is in `jitpim.policy.request`; docs/reference/policy.md
describes it for policy authors.
"""

from __future__ import annotations

from .decision import ApprovalRule, Outcome, PolicyDecision
from .engine import evaluate
from .loading import LoadedPolicy, PolicySet, load_policies, parse_policies
from .request import AccessRequest

__all__ = [
    "AccessRequest",
    "ApprovalRule",
    "LoadedPolicy",
    "Outcome",
    "PolicyDecision",
    "PolicySet",
    "evaluate",
    "load_policies",
    "parse_policies",
]
