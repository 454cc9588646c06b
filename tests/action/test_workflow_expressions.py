"""The harness's expression evaluator follows the runner's rules (so the example workflows' conditions are
checked, not assumed)."""

from __future__ import annotations

from typing import Any

import pytest

from .workflow_expressions import ExpressionError, evaluate, interpolate, status_condition

CONTEXTS: dict[str, Any] = {
    "github": {"event_name": "pull_request", "ref": "refs/heads/main"},
    "steps": {"jit": {"outputs": {"lease-ids": "a,b", "exit-code": "0"}, "outcome": "success"}},
    "inputs": {"dry-run": False, "ticket": ""},
    "matrix": {"customer": "fabrikam"},
    "env": {},
    "vars": {},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event_name == 'pull_request'", True),
        ("github.event_name == 'PULL_REQUEST'", True),  # string comparison ignores case
        ("github.event_name != 'pull_request'", False),
        ("steps.jit.outputs.lease-ids", "a,b"),
        ("steps['jit'].outputs['exit-code'] == 0", True),  # '0' == 0 coerces
        ("inputs.ticket || 'ServiceNow:CHG1'", "ServiceNow:CHG1"),
        ("inputs.ticket && 'x'", ""),
        ("!inputs.dry-run", True),
        ("startsWith(github.ref, 'refs/heads/')", True),
        ("contains(fromJSON('[\"a\",\"b\"]'), 'B')", True),
        ("format('{0}-{1}', matrix.customer, 3)", "fabrikam-3"),
        ("vars.MISSING", None),
        ("1 < 2 && 'yes' || 'no'", "yes"),
    ],
)
def test_expressions(expression: str, expected: Any) -> None:
    assert evaluate(expression, CONTEXTS) == expected


def test_interpolation_keeps_the_type_of_a_whole_expression_and_strings_otherwise() -> None:
    assert interpolate("${{ github.event_name == 'push' }}", CONTEXTS) is False
    assert interpolate("run ${{ matrix.customer }} (${{ inputs.dry-run }})", CONTEXTS) == "run fabrikam (false)"
    assert interpolate("${{ matrix.customer }} and ${{ inputs.ticket }}", CONTEXTS) == "fabrikam and "


def test_if_conditions_imply_success_unless_they_name_a_status() -> None:
    assert status_condition(None, CONTEXTS, status="success")
    assert not status_condition(None, CONTEXTS, status="failure")
    assert not status_condition("github.event_name == 'pull_request'", CONTEXTS, status="cancelled")
    assert status_condition("${{ always() }}", CONTEXTS, status="cancelled")
    assert status_condition("always() && steps.jit.outputs.lease-ids != ''", CONTEXTS, status="failure")
    assert not status_condition("cancelled()", CONTEXTS, status="success")


def test_unknown_contexts_and_functions_are_errors_not_empty_strings() -> None:
    with pytest.raises(ExpressionError):
        evaluate("secretz.X", CONTEXTS)
    with pytest.raises(ExpressionError):
        evaluate("hashFiles('x')", CONTEXTS)
