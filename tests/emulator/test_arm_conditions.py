"""The ABAC condition evaluator behind constrained role-assignment delegation (no server needed)."""

from __future__ import annotations

import pytest

from jitpim.emulator.core.scenario import default_scenario
from jitpim.emulator.services.arm.common.conditions import (
    ConditionContext,
    ConditionError,
    condition_satisfied,
    parse_condition,
)

RA = "microsoft.authorization/roleassignments:"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
CI = "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"
ALICE = "92a3b4c5-d6e7-4f03-8465-8091a2b3c4d5"
WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"


def _ctx(
    action: str, role: str | None = None, principal: str | None = None, *, resource: bool = False
) -> ConditionContext:
    attrs = {}
    if role:
        attrs[RA + "roledefinitionid"] = [role]
    if principal:
        attrs[RA + "principalid"] = [principal]
    return ConditionContext(action, {} if resource else attrs, attrs if resource else {})


def _scenario_condition() -> str:
    entry = next(e for e in default_scenario()["rbac"] if e.get("condition"))
    return str(entry["condition"])


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (_ctx("Microsoft.Authorization/roleAssignments/read"), True),
        (_ctx(WRITE, OFFICER, CI), True),
        (_ctx(WRITE, OFFICER.upper(), CI), True),
        (_ctx(WRITE, OWNER, CI), False),
        (_ctx(WRITE, OFFICER, ALICE), False),
        (_ctx(WRITE), False),
        (_ctx(DELETE, OFFICER, CI, resource=True), True),
        (_ctx(DELETE, OFFICER, ALICE, resource=True), False),
        (_ctx(DELETE, OFFICER, CI), False),  # attributes of the request, not of the resource
    ],
)
def test_scenario_delegation_condition(context: ConditionContext, expected: bool) -> None:
    assert condition_satisfied(_scenario_condition(), context) is expected


def test_for_any_of_all_values_guid_not_equals() -> None:
    condition = (
        f"((!(ActionMatches{{'{WRITE}'}})) OR (@Request[Microsoft.Authorization/roleAssignments:"
        f"RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {{{OWNER}, {UAA}}}))"
    )
    assert condition_satisfied(condition, _ctx(WRITE, OFFICER)) is True
    assert condition_satisfied(condition, _ctx(WRITE, OWNER)) is False
    assert condition_satisfied(condition, _ctx(WRITE, UAA)) is False
    assert condition_satisfied(condition, _ctx(DELETE, OWNER)) is True


def test_operators_keywords_and_wildcards() -> None:
    assert (
        condition_satisfied(
            "ActionMatches{'Microsoft.Authorization/roleAssignments/*'} && NOT ActionMatches{'*/delete'}", _ctx(WRITE)
        )
        is True
    )
    assert condition_satisfied("ActionMatches{'*/delete'} || ActionMatches{'*/read'}", _ctx(WRITE)) is False
    text = f"@Request[{RA}PrincipalType] StringEqualsIgnoreCase 'serviceprincipal'"
    ctx = ConditionContext(WRITE, {RA + "principaltype": ["ServicePrincipal"]})
    assert condition_satisfied(text, ctx) is True
    assert condition_satisfied(f"@Request[{RA}PrincipalType] StringEquals 'User'", ctx) is False
    assert condition_satisfied(f"@Request[{RA}PrincipalType] ForAnyOfAnyValues:StringLike {{'Service*'}}", ctx)
    assert condition_satisfied("SubOperationMatches{'Blob.List'}", ctx) is False


@pytest.mark.parametrize(
    "text",
    [
        "((",
        "ActionMatches{unquoted}",
        "@Request[x] Frobnicates 'y'",
        f"@Request[{RA}PrincipalId] ForEveryValue:GuidEquals {{{CI}}}",
        "!",
        "a b",
    ],
)
def test_unparseable_conditions_never_hold(text: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(text)
    assert condition_satisfied(text, _ctx(WRITE, OFFICER, CI)) is False
