"""The shipped templates and the emulator cannot drift: every template is JSON, calls only the functions the
emulator implements and names only the resource types it serves; the subscription template inlines exactly
estate.group.json (as Bicep inlines a module). And the language itself, unit by unit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator.services.arm.deployments.providers import TYPES
from jitpim.emulator.services.arm.template_language.expressions import (
    TemplateError,
    evaluate,
    function_names,
    is_expression,
    parse,
)
from jitpim.emulator.services.arm.template_language.functions import SUPPORTED, Context, arm_guid, build_functions

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "templates"
FILES = sorted(TEMPLATES.glob("*.json"))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _types(template: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for resource in template.get("resources", []):
        found.add(resource["type"].lower())
        inner = (resource.get("properties") or {}).get("template")
        if isinstance(inner, dict):
            found |= _types(inner)
    return found


def test_the_templates_are_there() -> None:
    assert {f.name for f in FILES} == {
        "estate.subscription.json",
        "estate.group.json",
        "jitpim-permissions.group.json",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_template_uses_only_what_the_emulator_implements(path: Path) -> None:
    template = json.loads(path.read_text())
    assert template["$schema"].startswith("https://schema.management.azure.com/schemas/")
    used: set[str] = set()
    for text in _strings(template):
        if is_expression(text):
            used |= function_names(parse(text))
    assert used, "a template without expressions tests nothing"
    assert used <= SUPPORTED, f"{path.name} calls {sorted(used - SUPPORTED)}, which the emulator does not implement"
    assert _types(template) <= set(TYPES), f"{path.name} names types the emulator does not serve"


def test_the_subscription_template_inlines_the_group_template() -> None:
    sub = json.loads((TEMPLATES / "estate.subscription.json").read_text())
    nested = next(r for r in sub["resources"] if r["type"] == "Microsoft.Resources/deployments")
    assert nested["properties"]["template"] == json.loads((TEMPLATES / "estate.group.json").read_text())
    assert nested["properties"]["expressionEvaluationOptions"] == {"scope": "inner"}


def _eval(text: str, **values: Any) -> Any:
    ctx = Context(
        tenant_id="t",
        subscription_id="s",
        subscription_name="Sub",
        deployment_name="d",
        resource_group="rg",
        location="westeurope",
        parameter=lambda name: values[name],
    )
    return evaluate(parse(text), build_functions(ctx))


def test_guid_is_arm_s_name_based_uuid() -> None:
    value = arm_guid("a", "b")
    assert value == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b"))
    assert uuid.UUID(value).version == 5
    assert _eval("[guid('a', 'b')]") == value


def test_functions() -> None:
    assert _eval("[resourceGroup().id]") == "/subscriptions/s/resourceGroups/rg"
    assert _eval("[subscription().subscriptionId]") == "s"
    assert _eval("[concat('a', parameters('x'), 'c')]", x="b") == "abc"
    assert _eval("[format('{0}-{1} {{x}}', 'a', 1)]") == "a-1 {x}"
    assert _eval("[resourceId('Microsoft.KeyVault/vaults/secrets', 'kv', 's')]") == (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/s"
    )
    assert _eval("[resourceId('other', 'Microsoft.Storage/storageAccounts', 'st')]").startswith(
        "/subscriptions/s/resourceGroups/other/"
    )
    assert _eval("[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'g')]") == (
        "/subscriptions/s/resourceGroups/g"
    )
    assert _eval("[toLower('AB')]") == "ab" and _eval("[string(true())]") == "True"
    assert _eval("[parameters('o').inner[1]]", o={"inner": [1, 2]}) == 2
    assert not is_expression("[[not an expression]")  # `[[` escapes a literal `[`


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[uniqueString('x')]", "uniqueString"),
        ("[concat('a'", "not valid"),
        ("[resourceId('Microsoft.KeyVault/vaults')]", "requires 1"),
        ("[format('{0:D}', 1)]", "placeholder"),
        ("[parameters('o').missing]", "doesn't exist"),
    ],
)
def test_bad_expressions_are_invalid_template(text: str, needle: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _eval(text, o={})
    assert caught.value.code == "InvalidTemplate" and needle in caught.value.message


def test_hostile_expressions_are_bounded() -> None:
    with pytest.raises(TemplateError, match="nests deeper"):
        parse("[" + "concat(" * 200 + "'x'" + ")" * 200 + "]")
    with pytest.raises(TemplateError, match="longer than"):
        parse("['" + "x" * 30000 + "']")


def test_a_long_variable_chain_is_refused_not_a_crash() -> None:
    from jitpim.emulator.services.arm.template_language.template import plan

    variables = {f"v{i}": f"[variables('v{i + 1}')]" for i in range(500)}
    variables["v500"] = "end"
    template = {"contentVersion": "1.0.0.0", "variables": variables, "resources": []}
    ctx = Context(tenant_id="t", subscription_id="s", subscription_name="S", deployment_name="d", resource_group="rg",
                  location="westeurope")  # fmt: skip
    with pytest.raises(TemplateError, match="more than 64"):
        plan(template, {}, ctx, "/subscriptions/s/resourceGroups/rg", lambda name: None)
