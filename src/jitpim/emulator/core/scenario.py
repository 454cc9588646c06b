"""Scenarios: the YAML/JSON description of a tenant that seeds the emulator.

This module applies the parts every service shares (tenant, subscription, resources, principals, groups,
standing directory and Azure role assignments, settings, GitHub claims). Each service reads its own parts
(eligibilities, policies, secrets) from `world.scenario` when it attaches. Reference:
docs/reference/emulator-scenario.md.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .directory import (
    Application,
    DirectoryRoleAssignment,
    FederatedCredential,
    Group,
    Membership,
    PasswordCredential,
    ServicePrincipal,
    User,
    _hash,
)
from .ids import stable_guid
from .json_text import MAX_DEPTH, JsonTextError, check_depth, parse_json
from .rbac import RoleAssignment, RoleDefinition
from .world import ArmResource, Settings, World

__all__ = [
    "ScenarioError",
    "apply_scenario",
    "default_scenario",
    "load_scenario_file",
    "parse_scenario",
    "tenant_scenarios",
]


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the field and what to write instead."""


def default_scenario() -> dict[str, Any]:
    text = resources.files("jitpim.emulator.data").joinpath("default_scenario.yaml").read_text()
    return parse_scenario(text, "default scenario")


def load_scenario_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {p}: {exc.strerror}") from exc
    return parse_scenario(text, str(p))


def parse_scenario(text: str, origin: str) -> dict[str, Any]:
    try:
        # Flow-style YAML nests with brackets as JSON does: bound both before a parser recurses.
        check_depth(text.encode("utf-8", errors="surrogatepass"))
        data = parse_json(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except JsonTextError as exc:
        raise ScenarioError(f"{origin}: not valid YAML/JSON: {exc}") from None
    except RecursionError:
        # Block-style YAML nests by indentation; the YAML composer is pure Python, so its recursion ends here.
        raise ScenarioError(f"{origin}: nested deeper than the maximum depth of {MAX_DEPTH}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{origin}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: the top level must be a mapping with at least 'tenant' and 'subscription'")
    for key in ("tenant", "subscription"):
        if not isinstance(data.get(key), dict) or "id" not in data[key]:
            raise ScenarioError(f"{origin}: '{key}.id' is required (a GUID)")
    tenant_scenarios(data, origin)
    return data


def tenant_scenarios(data: dict[str, Any], origin: str = "scenario") -> list[dict[str, Any]]:
    """The further tenants of a scenario (`tenants:`, e.g. a partner's customers), each a scenario of its own with
    its own principals, credentials, subscription and vaults. Tenant ids, subscriptions and vault names are
    unique across all of them (a vault is reached by its name)."""
    extra = data.get("tenants") or []
    if not isinstance(extra, list):
        raise ScenarioError(f"{origin}: 'tenants' must be a list of scenarios (each with 'tenant' and 'subscription')")
    seen_tenants = {str(data["tenant"]["id"]).lower()}
    seen_subscriptions = {str(data["subscription"]["id"]).lower()}
    seen_vaults = {str(v.get("name", "")).lower() for v in data.get("vaults") or [] if isinstance(v, dict)}
    for i, part in enumerate(extra):
        where = f"{origin}: tenants[{i}]"
        if not isinstance(part, dict):
            raise ScenarioError(f"{where} must be a mapping with 'tenant' and 'subscription'")
        for key in ("tenant", "subscription"):
            if not isinstance(part.get(key), dict) or "id" not in part[key]:
                raise ScenarioError(f"{where}: '{key}.id' is required (a GUID)")
        if part.get("tenants"):
            raise ScenarioError(f"{where}: tenants do not nest; list every tenant under the top-level 'tenants'")
        tenant, subscription = str(part["tenant"]["id"]).lower(), str(part["subscription"]["id"]).lower()
        if tenant in seen_tenants:
            raise ScenarioError(f"{where}: tenant {tenant} appears twice")
        if subscription in seen_subscriptions:
            raise ScenarioError(f"{where}: subscription {subscription} belongs to another tenant already")
        for vault in part.get("vaults") or []:
            name = str(vault.get("name", "")).lower() if isinstance(vault, dict) else ""
            if name in seen_vaults:
                raise ScenarioError(f"{where}: vault name {name!r} is taken (vault names are global)")
            seen_vaults.add(name)
        seen_tenants.add(tenant)
        seen_subscriptions.add(subscription)
    return list(extra)


def _subst(value: str, world: World) -> str:
    return value.replace("{subscription_id}", world.subscription_id).replace("{tenant_id}", world.tenant_id)


def scope_of(value: str, world: World) -> str:
    return _subst(value, world)


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise ScenarioError(f"scenario: {where} needs '{key}'")
    return entry[key]


def apply_scenario(world: World, now: datetime) -> None:
    """Seed the shared parts of `world.scenario` into `world`."""
    sc = world.scenario
    world.settings = Settings(**{k: v for k, v in (sc.get("settings") or {}).items() if k in Settings.__annotations__})
    world.apply_settings()
    directory = world.directory
    long_ago = now - timedelta(days=30)

    # ARM resources: subscription, resource groups, vaults.
    sub = world.subscription_scope
    world.add_resource(
        ArmResource(
            sub,
            "Microsoft.Resources/subscriptions",
            world.subscription_id,
            None,
            {"displayName": world.subscription_name, "state": "Enabled"},
        )
    )
    for rg in sc.get("resource_groups") or []:
        name = _require(rg, "name", "a resource group")
        world.add_resource(
            ArmResource(
                f"{sub}/resourceGroups/{name}",
                "Microsoft.Resources/resourceGroups",
                name,
                rg.get("location", "westeurope"),
                {"provisioningState": "Succeeded"},
            )
        )
    for vault in sc.get("vaults") or []:
        name = _require(vault, "name", "a vault")
        rg = _require(vault, "resource_group", f"vault {name}")
        world.add_resource(
            ArmResource(
                f"{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
                "Microsoft.KeyVault/vaults",
                name,
                vault.get("location", "westeurope"),
                {
                    "enableRbacAuthorization": True,
                    "enableSoftDelete": True,
                    "softDeleteRetentionInDays": 90,
                    "tenantId": world.tenant_id,
                },
            )
        )

    # Principals.
    for name, p in (sc.get("principals") or {}).items():
        kind = p.get("type")
        if kind == "application":
            client_id = p.get("client_id") or stable_guid(world.tenant_id, "app", name)
            app = Application(
                object_id=p.get("object_id") or stable_guid(world.tenant_id, "appobj", name),
                app_id=client_id,
                display_name=p.get("display_name", name),
                service_principal_id=p.get("service_principal_id") or stable_guid(world.tenant_id, "sp", name),
                graph_app_roles=set(p.get("graph_app_roles") or []),
                created=long_ago,
                public_client=bool(p.get("public_client", False)),
            )
            secret = p.get("client_secret") or secrets.token_urlsafe(30)
            app.passwords.append(
                PasswordCredential.create(
                    stable_guid(world.tenant_id, "pwd", name), secret, "seeded", long_ago, now + timedelta(days=365)
                )
            )
            world.seeded_client_secrets[name] = secret
            for fic in p.get("federated_credentials") or []:
                app.federated_credentials.append(
                    FederatedCredential(
                        id=fic.get("id") or stable_guid(world.tenant_id, "fic", name, fic.get("name", "")),
                        name=_require(fic, "name", f"a federated credential of {name}"),
                        issuer=_require(fic, "issuer", f"federated credential {fic.get('name')}"),
                        subject=_require(fic, "subject", f"federated credential {fic.get('name')}"),
                        audiences=list(fic.get("audiences") or ["api://AzureADTokenExchange"]),
                        description=fic.get("description"),
                    )
                )
            directory.applications[app.object_id] = app
            directory.service_principals[app.service_principal_id] = ServicePrincipal(
                app.service_principal_id, app.app_id, app.display_name, created=long_ago
            )
            world.principal_names[name] = app.service_principal_id
        elif kind == "user":
            user = User(
                object_id=p.get("object_id") or stable_guid(world.tenant_id, "user", name),
                display_name=p.get("display_name", name),
                user_principal_name=p.get("user_principal_name") or f"{name}@{directory.domain}",
                mail=p.get("mail"),
                password_sha256=_hash(str(p.get("password") or secrets.token_urlsafe(16))),
                scopes=set(p.get("scopes") or []),
                mfa=bool(p.get("mfa", True)),
                created=long_ago,
            )
            directory.users[user.object_id] = user
            world.principal_names[name] = user.object_id
        else:
            raise ScenarioError(f"scenario: principal {name!r} needs type 'application' or 'user', not {kind!r}")
    # Owners are resolved after every principal exists.
    for name, p in (sc.get("principals") or {}).items():
        if p.get("type") == "application" and p.get("owners"):
            app_obj = directory.application_of_service_principal(world.principal_names[name])
            assert app_obj is not None
            app_obj.owners = {_principal(world, o, f"owner of {name}") for o in p["owners"]}

    for g in sc.get("groups") or []:
        name = _require(g, "name", "a group")
        group = Group(
            object_id=g.get("object_id") or stable_guid(world.tenant_id, "group", name),
            display_name=g.get("display_name", name),
            description=g.get("description"),
            mail_nickname=name,
            is_assignable_to_role=bool(g.get("is_assignable_to_role", False)),
            created=long_ago,
        )
        for member in g.get("members") or []:
            group.members[_principal(world, member, f"member of {name}")] = Membership(long_ago, None)
        for owner in g.get("owners") or []:
            group.owners[_principal(world, owner, f"owner of {name}")] = Membership(long_ago, None)
        directory.groups[group.object_id] = group
        world.principal_names[name] = group.object_id

    for entry in sc.get("directory_roles") or []:
        role = directory.role_definition(_require(entry, "role", "a directory role assignment"))
        if role is None:
            raise ScenarioError(f"scenario: unknown directory role {entry['role']!r}")
        directory.role_assignments.append(
            DirectoryRoleAssignment(
                principal_id=_principal(world, _require(entry, "principal", "a directory role"), "directory role"),
                role_definition_id=role.id,
                directory_scope_id=entry.get("scope", "/"),
                start=long_ago,
                end=None,
            )
        )

    for custom in sc.get("custom_roles") or []:
        rid = custom.get("id") or stable_guid(world.tenant_id, "role", custom["name"])
        world.rbac.definitions[rid] = RoleDefinition(
            id=rid,
            role_name=_require(custom, "name", "a custom role"),
            description=custom.get("description", ""),
            actions=list(custom.get("actions") or []),
            not_actions=list(custom.get("not_actions") or []),
            data_actions=list(custom.get("data_actions") or []),
            not_data_actions=list(custom.get("not_data_actions") or []),
            role_type="CustomRole",
            assignable_scopes=[_subst(s, world) for s in custom.get("assignable_scopes") or [sub]],
        )

    for i, entry in enumerate(sc.get("rbac") or []):
        definition = world.rbac.definition(_require(entry, "role", "an rbac assignment"))
        if definition is None:
            raise ScenarioError(f"scenario: unknown Azure role {entry['role']!r}")
        principal = _principal(world, _require(entry, "principal", "an rbac assignment"), "rbac assignment")
        scope = _subst(entry.get("scope", sub), world)
        if not world.scope_exists(scope):
            raise ScenarioError(
                f"scenario: rbac scope {scope} does not exist (declare it under resource_groups/vaults)"
            )
        name = entry.get("name") or stable_guid(world.tenant_id, "ra", str(i), principal, definition.id, scope)
        world.rbac.assignments[name.lower()] = RoleAssignment(
            name=name,
            scope=scope,
            role_definition_id=definition.id,
            principal_id=principal,
            principal_type=directory.principal_kind(principal) or "User",
            created_on=long_ago,
            description=entry.get("description"),
            condition=entry.get("condition"),
            condition_version=entry.get("condition_version") if entry.get("condition") else None,
        )

    world.github_claims = dict((sc.get("github") or {}).get("claims") or {})
    token = (sc.get("github") or {}).get("request_token")
    if token:
        world.github_request_token = str(token)


def _principal(world: World, name: str, where: str) -> str:
    found = world.principal_id(name)
    if found is None:
        raise ScenarioError(
            f"scenario: {where} names unknown principal {name!r}; declare it under 'principals' or 'groups'"
        )
    return found
