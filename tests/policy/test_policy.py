"""Cedar policies: loading refuses every error with the file named; decisions name the deciding policy and
the claims it read; outcomes follow the documented precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jitpim.errors import ConfigError
from jitpim.policy import AccessRequest, Outcome, evaluate, load_policies, parse_policies

MAIN = {
    "sub": "repo:contoso/payments:ref:refs/heads/main",
    "repository": "contoso/payments",
    "ref": "refs/heads/main",
    "event_name": "push",
    "actor": "octocat",
}
PR = dict(MAIN, sub="repo:contoso/payments:pull_request", ref="refs/pull/5/merge", event_name="pull_request")


def request(claims: dict[str, Any], **overrides: Any) -> AccessRequest:
    values: dict[str, Any] = {
        "claims": claims,
        "kind": "rbac",
        "role": "Key Vault Secrets Officer",
        "scope": "/subscriptions/s/resourceGroups/rg-payments",
        "duration": timedelta(minutes=30),
        "now": datetime(2026, 3, 4, 10, 0, tzinfo=UTC),  # a Wednesday
    }
    values.update(overrides)
    return AccessRequest(**values)


def policies(text: str, name: str = "p.cedar") -> Any:
    return parse_policies([(name, text)])


def test_permit_names_policy_and_claims() -> None:
    ps = policies(
        '@id("main") permit(principal, action, resource) when { principal.ref == "refs/heads/main" && '
        "context.duration_minutes <= 60 };"
    )
    decision = evaluate(ps, request(MAIN))
    assert decision.outcome is Outcome.PERMIT
    assert decision.policy_id == "main"
    assert decision.claims == {"context.duration_minutes": 30, "principal.ref": "refs/heads/main"}
    assert decision.policy_version == ps.version


def test_default_deny_and_forbid_win_over_permit() -> None:
    ps = policies(
        '@id("all") permit(principal, action, resource);\n'
        '@id("no-pr") forbid(principal, action, resource) when { principal.pull_request };'
    )
    assert evaluate(ps, request(MAIN)).outcome is Outcome.PERMIT
    forbidden = evaluate(ps, request(PR))
    assert (forbidden.outcome, forbidden.policy_id) == (Outcome.FORBID, "no-pr")
    assert forbidden.claims == {"principal.pull_request": True}
    nothing = evaluate(policies('permit(principal, action, resource) when { principal.ref == "x" };'), request(MAIN))
    assert nothing.outcome is Outcome.FORBID and nothing.policy_id is None
    assert "denies by default" in nothing.message


def test_strictest_approval_and_break_glass_precedence() -> None:
    ps = policies(
        '@id("auto") permit(principal, action, resource);\n'
        '@id("one") @approvals("1") @approvers("leads") @approval_timeout("2h") permit(principal, action, resource);\n'
        '@id("two") @approvals("2") @approvers("owners") permit(principal, action, resource) '
        'when { resource.role == "Owner" };\n'
        '@id("glass") @break_glass("true") permit(principal, action, resource) when { context.break_glass };'
    )
    one = evaluate(ps, request(MAIN))
    assert one.outcome is Outcome.APPROVAL_REQUIRED
    assert one.approval is not None and (one.approval.count, one.approval.group) == (1, "leads")
    assert one.approval.timeout == timedelta(hours=2)
    two = evaluate(ps, request(MAIN, role="Owner"))
    assert two.policy_id == "two" and two.approval is not None
    # The strictest rule: the most approvers, and the shortest timeout of all the satisfied policies (30m default).
    assert (two.approval.count, two.approval.group, two.approval.timeout) == (2, "owners", timedelta(minutes=30))
    glass = evaluate(ps, request(MAIN, role="Owner", break_glass=True))
    assert (glass.outcome, glass.policy_id) == (Outcome.BREAK_GLASS, "glass")


def test_maintenance_window_and_ticket_context() -> None:
    ps = policies(
        '@id("window") permit(principal, action, resource) when { context.weekday == "sat" && context.hour >= 1 '
        '&& context.hour < 5 && context.ticket_system == "ServiceNow" };'
    )
    saturday = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    assert evaluate(ps, request(MAIN, now=saturday, ticket="ServiceNow:CHG1")).outcome is Outcome.PERMIT
    assert evaluate(ps, request(MAIN, now=saturday)).outcome is Outcome.FORBID
    assert evaluate(ps, request(MAIN, ticket="ServiceNow:CHG1")).outcome is Outcome.FORBID


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("permit(principal, action resource);", "p.cedar: Cedar syntax error"),
        ('@approvals("2") permit(principal, action, resource);', "needs both @approvals"),
        ('@approvals("zero") @approvers("g") permit(principal, action, resource);', "not a number"),
        ('@approvals("1") @approvers("g") @approval_timeout("30d") permit(principal, action, resource);', "over 7"),
        ('@colour("red") permit(principal, action, resource);', "unknown annotation"),
        ('@break_glass("true") forbid(principal, action, resource);', "forbid policy"),
        ('@id("a") permit(principal, action, resource);\n@id("a") permit(principal, action, resource);', "also used"),
    ],
)
def test_bad_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policies(text)


def test_loading_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a.cedar").write_text('@id("a") permit(principal, action, resource) when { principal.ref == "x" };')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.cedar").write_text("forbid(principal, action, resource);")
    loaded = load_policies(tmp_path)
    assert sorted(p.policy_id for p in loaded.policies.values()) == ["a", "b:policy0"]
    with pytest.raises(ConfigError, match="does not exist"):
        load_policies(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no Cedar policy files"):
        load_policies(tmp_path / "empty")


def test_every_example_policy_loads() -> None:
    examples = Path(__file__).parents[2] / "examples" / "policies"
    loaded = load_policies(examples)
    assert len({p.source for p in loaded.policies.values()}) >= 10
