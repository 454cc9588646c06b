"""The template functions the emulator implements, with ARM's semantics:

    parameters, variables                  the template's own values
    resourceGroup, subscription, tenant,   the deployment's context objects (`resourceGroup().id`,
    deployment                             `subscription().subscriptionId`, `subscription().tenantId`, ...)
    concat, format, toLower, toUpper,      strings (`format` takes .NET's `{0}` placeholders, `{{`/`}}` escapes)
    string
    guid                                   deterministic: a version-5 UUID of the arguments joined by '-' in
                                           ARM's namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830, as ARM computes it
    resourceId, subscriptionResourceId,    resource ids built as ARM builds them
    extensionResourceId
    reference                              a deployed resource's runtime state (outputs only)
    true, false, null                      literals

`SUPPORTED` lists them; a test checks that the shipped templates call nothing else.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .expressions import Function, TemplateError

__all__ = ["SUPPORTED", "Context", "arm_guid", "build_functions"]

SUPPORTED = frozenset(
    {
        "parameters",
        "variables",
        "resourcegroup",
        "subscription",
        "tenant",
        "deployment",
        "concat",
        "format",
        "tolower",
        "toupper",
        "string",
        "guid",
        "resourceid",
        "subscriptionresourceid",
        "extensionresourceid",
        "reference",
        "true",
        "false",
        "null",
    }
)
_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)\}|\{[^}]*\}?")


def arm_guid(*parts: str) -> str:
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(parts)))


@dataclass
class Context:
    """What the functions read: the deployment's place and the template's values."""

    tenant_id: str
    subscription_id: str
    subscription_name: str
    deployment_name: str
    resource_group: str | None = None  # None at subscription scope
    location: str | None = None  # the resource group's (or the deployment's) location
    parameter: Callable[[str], Any] = lambda name: None
    variable: Callable[[str], Any] = lambda name: None
    reference: Callable[[str], Any] | None = None  # None where reference() may not be used
    extra: dict[str, Any] = field(default_factory=dict)


def _strings(name: str, args: list[Any]) -> list[str]:
    for arg in args:
        if not isinstance(arg, str):
            raise TemplateError(f"The template function '{name}' expects string arguments; got '{json.dumps(arg)}'.")
    return list(args)


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    if len(args) < low or (high is not None and len(args) > high):
        expected = str(low) if high == low else f"{low} to {high}" if high is not None else f"at least {low}"
        raise TemplateError(
            f"Unable to evaluate template language function '{name}': function requires {expected} argument(s) "
            f"while {len(args)} were given."
        )


def _format(args: list[Any]) -> str:
    _arity("format", args, 1)
    template, values = args[0], args[1:]
    if not isinstance(template, str):
        raise TemplateError("The template function 'format' expects a format string as its first argument.")

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        if match.group(1) is None:
            raise TemplateError(f"The format string '{template}' has a placeholder the emulator does not support.")
        index = int(match.group(1))
        if index >= len(values):
            raise TemplateError(f"The format string '{template}' names argument {index}, which is not given.")
        value = values[index]
        if isinstance(value, bool):
            return "True" if value else "False"
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    return _PLACEHOLDER.sub(replace, template)


def _concat(args: list[Any]) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    return "".join(a if isinstance(a, str) else json.dumps(a) if isinstance(a, dict | list) else str(a) for a in args)


def _type_segments(name: str, resource_type: str, names: list[str]) -> str:
    parts = [p for p in resource_type.split("/") if p]
    if len(parts) < 2:
        raise TemplateError(f"The template function '{name}': '{resource_type}' is not a fully qualified type.")
    if len(parts) - 1 != len(names):
        raise TemplateError(
            f"Unable to evaluate template language function '{name}': the type '{resource_type}' requires "
            f"{len(parts) - 1} resource name argument(s)."
        )
    tail = "/".join(f"{t}/{n}" for t, n in zip(parts[1:], names, strict=True))
    return f"{parts[0]}/{tail}"


def _split_type(name: str, args: list[str]) -> tuple[list[str], str, list[str]]:
    """(leading scope arguments, the type, the names): the type is the first argument holding a '/'."""
    index = next((i for i, a in enumerate(args) if "/" in a), None)
    if index is None:
        raise TemplateError(f"Unable to evaluate template language function '{name}': no resource type is given.")
    return args[:index], args[index], args[index + 1 :]


def subscription_resource_id(subscription_id: str, resource_type: str, names: list[str]) -> str:
    if resource_type.lower() == "microsoft.resources/resourcegroups" and len(names) == 1:
        return f"/subscriptions/{subscription_id}/resourceGroups/{names[0]}"
    return (
        f"/subscriptions/{subscription_id}/providers/{_type_segments('subscriptionResourceId', resource_type, names)}"
    )


def build_functions(ctx: Context) -> dict[str, Function]:
    sub_id = f"/subscriptions/{ctx.subscription_id}"

    def resource_group(args: list[Any]) -> Any:
        _arity("resourceGroup", args, 0, 0)
        if ctx.resource_group is None:
            raise TemplateError(
                "The template function 'resourceGroup' is not expected at this location: the deployment is at "
                "subscription scope."
            )
        return {
            "id": f"{sub_id}/resourceGroups/{ctx.resource_group}",
            "name": ctx.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": ctx.location,
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(args: list[Any]) -> Any:
        _arity("subscription", args, 0, 0)
        return {
            "id": sub_id,
            "subscriptionId": ctx.subscription_id,
            "tenantId": ctx.tenant_id,
            "displayName": ctx.subscription_name,
        }

    def resource_id(args: list[Any]) -> str:
        scope, resource_type, names = _split_type("resourceId", _strings("resourceId", args))
        if len(scope) > 2:
            raise TemplateError("Unable to evaluate template language function 'resourceId': too many arguments.")
        subscription_id = scope[0] if len(scope) == 2 else ctx.subscription_id
        group = scope[-1] if scope else ctx.resource_group
        if group is None:  # subscription scope: ARM answers the subscription-level id
            return subscription_resource_id(subscription_id, resource_type, names)
        tail = _type_segments("resourceId", resource_type, names)
        return f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/{tail}"

    def subscription_rid(args: list[Any]) -> str:
        scope, resource_type, names = _split_type("subscriptionResourceId", _strings("subscriptionResourceId", args))
        if len(scope) > 1:
            raise TemplateError("Unable to evaluate template language function 'subscriptionResourceId'.")
        return subscription_resource_id(scope[0] if scope else ctx.subscription_id, resource_type, names)

    def extension_rid(args: list[Any]) -> str:
        _arity("extensionResourceId", args, 3)
        base, resource_type, *names = _strings("extensionResourceId", args)
        return f"{base.rstrip('/')}/providers/{_type_segments('extensionResourceId', resource_type, names)}"

    def reference(args: list[Any]) -> Any:
        _arity("reference", args, 1, 3)
        if ctx.reference is None:
            raise TemplateError(
                "The template function 'reference' is not expected at this location. The emulator evaluates it in "
                "outputs only."
            )
        return ctx.reference(_strings("reference", args[:1])[0])

    def one_string(name: str, convert: Callable[[str], str]) -> Function:
        def call(args: list[Any]) -> str:
            _arity(name, args, 1, 1)
            return convert(_strings(name, args)[0])

        return call

    def string(args: list[Any]) -> str:
        _arity("string", args, 1, 1)
        value = args[0]
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "True" if value else "False"
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def named(getter: Callable[[str], Any], name: str) -> Function:
        def call(args: list[Any]) -> Any:
            _arity(name, args, 1, 1)
            return getter(_strings(name, args)[0])

        return call

    def guid(args: list[Any]) -> str:
        _arity("guid", args, 1)
        return arm_guid(*_strings("guid", args))

    def constant(name: str, value: Any) -> Function:
        def call(args: list[Any]) -> Any:
            _arity(name, args, 0, 0)
            return value

        return call

    table: dict[str, Function] = {
        "parameters": named(ctx.parameter, "parameters"),
        "variables": named(ctx.variable, "variables"),
        "resourcegroup": resource_group,
        "subscription": subscription,
        "tenant": constant("tenant", {"tenantId": ctx.tenant_id}),
        "deployment": constant("deployment", {"name": ctx.deployment_name}),
        "concat": _concat,
        "format": _format,
        "tolower": one_string("toLower", str.lower),
        "toupper": one_string("toUpper", str.upper),
        "string": string,
        "guid": guid,
        "resourceid": resource_id,
        "subscriptionresourceid": subscription_rid,
        "extensionresourceid": extension_rid,
        "reference": reference,
        "true": constant("true", True),
        "false": constant("false", False),
        "null": constant("null", None),
    }
    assert set(table) == SUPPORTED
    return table
