"""A template's parameters, variables, resources and outputs, evaluated as ARM evaluates them.

`plan` binds the deployment's parameters (types, defaults, `allowedValues`; a missing or unknown parameter is
`InvalidTemplate`), evaluates variables lazily (a cycle is an error), and turns each resource into a
`PlannedResource`: its type, API version, full name, resource id, the scope it sits at (an extension resource's
`scope` property, relative or absolute), its evaluated body and its resolved `dependsOn`, in an order that
honours `dependsOn` (a cycle or an unknown dependency is an error). A nested deployment with an inline template
(`expressionEvaluationOptions.scope: inner`, what Bicep emits for a module) is planned recursively at its
resource group. `outputs` evaluates the outputs once the resources exist (`reference()` is allowed there only).

Left out, each refused with `InvalidTemplate` rather than ignored: `copy` loops, user-defined `functions`,
symbolic-name templates (`languageVersion` 2.0), Key Vault parameter references, template links, outer-scope
nested templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .expressions import TemplateError, evaluate, is_expression, parse
from .functions import Context, build_functions, subscription_resource_id

__all__ = ["Plan", "PlannedResource", "evaluate_outputs", "plan", "wire_type"]

_TYPES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}
_TOP_LEVEL = {
    "$schema",
    "contentversion",
    "apiprofile",
    "parameters",
    "variables",
    "functions",
    "resources",
    "outputs",
    "metadata",
    "languageversion",
    "definitions",
}
DEPLOYMENTS = "Microsoft.Resources/deployments"
_MAX_CHAIN = 64  # variables and parameter defaults referring to each other, bounded (a hostile template)
RESOURCE_GROUPS = "Microsoft.Resources/resourceGroups"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"


def wire_type(declared: str) -> str:
    return _TYPES.get(declared.lower(), declared)


@dataclass
class PlannedResource:
    index: int
    type: str
    api_version: str
    name: str
    id: str
    scope: str  # the scope path the resource is written at (its parent scope)
    body: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    resource_group: str | None = None  # a nested deployment's target resource group
    nested: Plan | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def names(self) -> list[str]:
        return self.name.split("/")


@dataclass
class Plan:
    context: Context
    scope: str  # the deployment's scope path
    parameters: dict[str, tuple[str, Any]]  # name -> (wire type, value)
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    template: dict[str, Any]

    def all_resources(self) -> list[PlannedResource]:
        """Every resource, nested deployments' ones after their deployment."""
        out: list[PlannedResource] = []
        for resource in self.resources:
            out.append(resource)
            if resource.nested is not None:
                out += resource.nested.all_resources()
        return out


def _walk(value: Any, functions: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        if is_expression(value):
            try:
                return evaluate(parse(value), functions)
            except TemplateError as exc:
                raise TemplateError(f"The template {where} is not valid: {exc.message}", exc.code) from None
        return value[1:] if value.startswith("[[") else value
    if isinstance(value, dict):
        return {k: _walk(v, functions, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, functions, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _check_type(name: str, declared: str, value: Any) -> None:
    kind = declared.lower()
    ok = {
        "string": isinstance(value, str),
        "securestring": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "object": isinstance(value, dict),
        "secureobject": isinstance(value, dict),
        "array": isinstance(value, list),
    }.get(kind)
    if ok is None:
        raise TemplateError(f"The template parameter '{name}' has type '{declared}', which is not a valid type.")
    if not ok:
        raise TemplateError(
            f"Template parameter '{name}' was provided an invalid value. Expected a value of type '{declared}', "
            f"but received a value of type '{type(value).__name__}'."
        )


class _Values:
    """Parameters and variables, evaluated on first use (defaults may use other parameters)."""

    def __init__(self, template: dict[str, Any], given: dict[str, Any], base: Context) -> None:
        self.declared: dict[str, Any] = template.get("parameters") or {}
        self.variables_declared: dict[str, Any] = template.get("variables") or {}
        if not isinstance(self.declared, dict) or not isinstance(self.variables_declared, dict):
            raise TemplateError("The template 'parameters' and 'variables' must be objects.")
        unknown = [n for n in given if n.lower() not in {d.lower() for d in self.declared}]
        if unknown:
            raise TemplateError(
                f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not "
                "present in the original template and can therefore not be provided at deployment time. The only "
                f"supported parameters for this template are '{', '.join(self.declared)}'."
            )
        self.given = {k.lower(): v for k, v in given.items()}
        self.values: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self._busy: set[str] = set()
        self.context = replace(base, parameter=self.parameter, variable=self.variable)
        self.functions = build_functions(self.context)

    def _declared(self, table: dict[str, Any], name: str, what: str) -> tuple[str, Any]:
        key = next((k for k in table if k.lower() == name.lower()), None)
        if key is None:
            raise TemplateError(f"The {what} '{name}' is not defined in the template.")
        return key, table[key]

    def parameter(self, name: str) -> Any:
        key, spec = self._declared(self.declared, name, "parameter")
        if key in self.values:
            return self.values[key]
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise TemplateError(f"The template parameter '{key}' must declare its 'type'.")
        if ("p:" + key) in self._busy:
            raise TemplateError(f"The template parameter '{key}' refers to itself through its default value.")
        if len(self._busy) >= _MAX_CHAIN:
            raise TemplateError(f"The template parameter '{key}' is reached through more than {_MAX_CHAIN} others.")
        self._busy.add("p:" + key)
        try:
            if key.lower() in self.given:
                supplied = self.given[key.lower()]
                if not isinstance(supplied, dict) or "value" not in supplied:
                    raise TemplateError(
                        f"The value of deployment parameter '{key}' is not valid: the emulator takes "
                        "{'value': ...} (Key Vault references are not supported)."
                    )
                value = supplied["value"]
            elif "defaultValue" in spec:
                value = _walk(spec["defaultValue"], self.functions, f"parameter '{key}'")
            else:
                raise TemplateError(
                    f"Deployment template validation failed: 'The value for the template parameter '{key}' is not "
                    "provided. Please see https://aka.ms/arm-create-parameter-file for usage details.'."
                )
        finally:
            self._busy.discard("p:" + key)
        _check_type(key, spec["type"], value)
        allowed = spec.get("allowedValues")
        if allowed is not None and value not in allowed:
            raise TemplateError(
                f"Deployment template validation failed: 'The provided value '{value}' for the template parameter "
                f"'{key}' is not valid. The value is not part of the allowed value(s): "
                f"'{','.join(str(a) for a in allowed)}'.'."
            )
        for bound in ("minLength", "maxLength"):
            if bound in spec and isinstance(value, str | list):
                limit = int(spec[bound])
                if (len(value) < limit) if bound == "minLength" else (len(value) > limit):
                    relation = "at least" if bound == "minLength" else "at most"
                    raise TemplateError(
                        f"Deployment template validation failed: 'The provided value for the template parameter "
                        f"'{key}' is not valid. Length of the value should be {relation} {limit}.'."
                    )
        self.values[key] = value
        return value

    def variable(self, name: str) -> Any:
        key, raw = self._declared(self.variables_declared, name, "variable")
        if key in self.variables:
            return self.variables[key]
        if key.lower() == "copy":
            raise TemplateError("Variable 'copy' loops are not supported by the emulator.")
        if ("v:" + key) in self._busy:
            raise TemplateError(f"The template variable '{key}' refers to itself.")
        if len(self._busy) >= _MAX_CHAIN:
            raise TemplateError(f"The template variable '{key}' is reached through more than {_MAX_CHAIN} others.")
        self._busy.add("v:" + key)
        try:
            value = _walk(raw, self.functions, f"variable '{key}'")
        finally:
            self._busy.discard("v:" + key)
        self.variables[key] = value
        return value


def _check_top_level(template: Any) -> dict[str, Any]:
    if not isinstance(template, dict):
        raise TemplateError("The deployment template must be a JSON object.")
    unknown = [k for k in template if k.lower() not in _TOP_LEVEL]
    if unknown:
        raise TemplateError(f"The template has unknown top-level properties: '{', '.join(unknown)}'.")
    if "languageversion" in {k.lower() for k in template}:
        raise TemplateError("Templates with a 'languageVersion' (symbolic names) are not supported by the emulator.")
    if template.get("functions"):
        raise TemplateError("User-defined template 'functions' are not supported by the emulator.")
    if "contentVersion" not in template:
        raise TemplateError("Required property 'contentVersion' not found in the template.")
    if not isinstance(template.get("resources"), list):
        raise TemplateError("Required property 'resources' not found in the template, or it is not an array.")
    return template


def _resource_id(scope: str, resource_type: str, names: list[str]) -> str:
    namespace, *types = resource_type.split("/")
    if len(types) != len(names) or not types:
        raise TemplateError(
            f"The template resource '{'/'.join(names)}' for type '{resource_type}' has an incorrect segment length. "
            "A nested resource type must have identical number of segments as its resource name."
        )
    tail = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"{scope.rstrip('/')}/providers/{namespace}/{tail}"


def _scope_of(raw: Any, deployment_scope: str, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise TemplateError(f"The template {where} has an invalid 'scope'.")
    if raw.startswith("/"):
        return raw.rstrip("/")
    return f"{deployment_scope.rstrip('/')}/providers/{raw.strip('/')}"


def _order(resources: list[PlannedResource]) -> list[PlannedResource]:
    by_id = {r.id.lower(): r for r in resources}
    done: list[PlannedResource] = []
    state: dict[str, str] = {}

    def visit(resource: PlannedResource) -> None:
        key = resource.id.lower()
        if state.get(key) == "done":
            return
        if state.get(key) == "busy":
            raise TemplateError(
                f"Deployment template validation failed: 'Circular dependency detected on resource: '{resource.id}'.'"
            )
        state[key] = "busy"
        for dependency in resource.depends_on:
            visit(by_id[dependency.lower()])
        state[key] = "done"
        done.append(resource)

    for resource in resources:
        visit(resource)
    return done


def _resolve_depends(resources: list[PlannedResource], raw: dict[int, list[Any]]) -> None:
    for resource in resources:
        resolved: list[str] = []
        for entry in raw.get(resource.index, []):
            if not isinstance(entry, str):
                raise TemplateError(
                    f"The template resource '{resource.name}' has a 'dependsOn' entry that is not a string."
                )
            wanted = entry.lower().rstrip("/")
            match = next(
                (r for r in resources if wanted in (r.id.lower(), f"{r.type}/{r.name}".lower(), r.name.lower())),
                None,
            )
            if match is None:
                raise TemplateError(
                    f"Deployment template validation failed: 'The resource '{entry}' is not defined in the template.'"
                )
            if match is not resource:
                resolved.append(match.id)
        resource.depends_on = resolved


GroupLocation = Callable[[str], str | None]


def plan(
    template: Any,
    given: dict[str, Any],
    base: Context,
    scope: str,
    group_location: GroupLocation,
    *,
    is_supported_type: Callable[[str], bool] | None = None,
) -> Plan:
    """Everything the deployment will write, in order; raises `TemplateError` for anything ARM would refuse."""
    template = _check_top_level(template)
    values = _Values(template, given, base)
    functions = values.functions
    for name in values.declared:
        values.parameter(name)
    for name in values.variables_declared:
        values.variable(name)
    planned: list[PlannedResource] = []
    depends: dict[int, list[Any]] = {}
    planned_groups: dict[str, str | None] = {}
    for index, raw in enumerate(template["resources"]):
        where = f"resource at position {index}"
        if not isinstance(raw, dict):
            raise TemplateError(f"The template {where} is not an object.")
        if "copy" in raw:
            raise TemplateError(f"The template {where} uses a 'copy' loop, which the emulator does not support.")
        if "condition" in raw and not _walk(raw["condition"], functions, f"{where} condition"):
            continue
        resource_type = _walk(raw.get("type"), functions, f"{where} type")
        api_version = _walk(raw.get("apiVersion"), functions, f"{where} apiVersion")
        name = _walk(raw.get("name"), functions, f"{where} name")
        if not all(isinstance(v, str) and v for v in (resource_type, api_version, name)):
            raise TemplateError(f"The template {where} must have a 'type', an 'apiVersion' and a 'name'.")
        where = f"resource '{resource_type}/{name}'"
        if is_supported_type is not None and not is_supported_type(resource_type):
            namespace = resource_type.split("/", 1)[0]
            raise TemplateError(
                f"The resource type '{resource_type.split('/', 1)[-1]}' could not be found in the namespace "
                f"'{namespace}' for api version '{api_version}'.",
                code="InvalidResourceType",
            )
        names = name.split("/")
        nested: Plan | None = None
        group: str | None = None
        body: dict[str, Any]
        if resource_type.lower() == DEPLOYMENTS.lower():
            body, nested, group = _nested(
                raw, functions, base, scope, name, group_location, planned_groups, where, is_supported_type
            )
            target = f"{base_sub(base)}/resourceGroups/{group}" if group else scope
            resource_id = _resource_id(target, resource_type, names)
            at = target
        else:
            body = {
                k: _walk(v, functions, f"{where}.{k}")
                for k, v in raw.items()
                if k not in ("type", "apiVersion", "name", "dependsOn", "condition", "scope", "comments")
            }
            if "scope" in raw:
                at = _scope_of(_walk(raw["scope"], functions, f"{where} scope"), scope, where)
                resource_id = _resource_id(at, resource_type, names)
            elif resource_type.lower() == RESOURCE_GROUPS.lower():
                if base.resource_group is not None:
                    raise TemplateError("Resource groups can only be created by a subscription-level deployment.")
                at = scope
                resource_id = subscription_resource_id(base.subscription_id, resource_type, names)
                planned_groups[name.lower()] = body.get("location")
            elif resource_type.lower() == ROLE_DEFINITIONS.lower():
                # A role definition's id is subscription-level whatever the deployment's scope.
                at = scope
                resource_id = subscription_resource_id(base.subscription_id, resource_type, names)
            else:
                at = scope
                resource_id = _resource_id(scope, resource_type, names)
        planned.append(
            PlannedResource(index, resource_type, api_version, name, resource_id, at, body, [], group, nested)
        )
        depends[index] = list(_walk(raw.get("dependsOn") or [], functions, f"{where} dependsOn"))
    ids = [r.id.lower() for r in planned]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise TemplateError(
            f"Deployment template validation failed: 'The resource '{duplicate}' is defined multiple times in a "
            "template.'"
        )
    _resolve_depends(planned, depends)
    parameters = {k: (wire_type(values.declared[k]["type"]), v) for k, v in values.values.items()}
    outputs = template.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise TemplateError("The template 'outputs' must be an object.")
    context = values.context
    return Plan(context, scope, parameters, _order(planned), outputs, template)


def base_sub(base: Context) -> str:
    return f"/subscriptions/{base.subscription_id}"


def _nested(
    raw: dict[str, Any],
    functions: dict[str, Any],
    base: Context,
    scope: str,
    name: str,
    group_location: GroupLocation,
    planned_groups: dict[str, str | None],
    where: str,
    is_supported_type: Callable[[str], bool] | None,
) -> tuple[dict[str, Any], Plan, str | None]:
    props = raw.get("properties")
    if not isinstance(props, dict):
        raise TemplateError(f"The template {where} must have 'properties'.")
    if "templateLink" in props or "parametersLink" in props:
        raise TemplateError(f"The template {where} links a template; the emulator deploys inline templates only.")
    if (props.get("expressionEvaluationOptions") or {}).get("scope", "outer").lower() != "inner":
        raise TemplateError(
            f"The template {where} is a nested template evaluated in the outer scope; the emulator supports "
            "'expressionEvaluationOptions': {'scope': 'inner'} (what Bicep emits for modules) only."
        )
    mode = props.get("mode", "Incremental")
    if str(mode).lower() != "incremental":
        raise TemplateError(f"The template {where}: nested deployments support the 'Incremental' mode only.")
    if "subscriptionId" in raw:
        sub = _walk(raw["subscriptionId"], functions, f"{where} subscriptionId")
        if str(sub).lower() != base.subscription_id.lower():
            raise TemplateError(
                f"The template {where} targets another subscription, which the emulator does not serve."
            )
    group = (
        _walk(raw["resourceGroup"], functions, f"{where} resourceGroup")
        if "resourceGroup" in raw
        else base.resource_group
    )
    if group is not None and not isinstance(group, str):
        raise TemplateError(f"The template {where} has an invalid 'resourceGroup'.")
    parameters = _walk(props.get("parameters") or {}, functions, f"{where} parameters")
    if not isinstance(parameters, dict):
        raise TemplateError(f"The template {where} has invalid 'parameters'.")
    if group is None:
        target_scope, location = scope, base.location
    else:
        target_scope = f"{base_sub(base)}/resourceGroups/{group}"
        location = planned_groups.get(group.lower()) or group_location(group)
        if location is None:
            raise TemplateError(f"Resource group '{group}' could not be found.", code="ResourceGroupNotFound")
    inner_base = replace(base, deployment_name=name, resource_group=group, location=location, reference=None)
    inner = plan(
        props.get("template"), parameters, inner_base, target_scope, group_location, is_supported_type=is_supported_type
    )
    body = {"properties": {"mode": "Incremental", "parameters": parameters}}
    return body, inner, group


def evaluate_outputs(plan_: Plan, reference: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    """The deployment's outputs, as ARM returns them: `{name: {type, value}}` (secure outputs are left out)."""
    context = replace(plan_.context, reference=reference)
    functions = build_functions(context)
    out: dict[str, dict[str, Any]] = {}
    for name, spec in plan_.outputs.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise TemplateError(f"The template output '{name}' must declare its 'type'.")
        if "copy" in spec:
            raise TemplateError(f"The template output '{name}' uses 'copy', which the emulator does not support.")
        if "condition" in spec and not _walk(spec["condition"], functions, f"output '{name}' condition"):
            continue
        value = _walk(spec.get("value"), functions, f"output '{name}'")
        declared = str(spec["type"])
        _check_type(name, declared, value)
        if declared.lower().startswith("secure"):
            continue
        out[name] = {"type": wire_type(declared), "value": value}
    return out


def template_hash(template: Any) -> str:
    """A stable hash of the template, as the `templateHash` property carries one."""
    import hashlib

    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))
