"""Writes of the plain ARM resources the deployment templates create: resource groups, Key Vault vaults (RBAC
authorization only) and their secrets, storage accounts. The REST PUTs and the deployment engine both call these,
so a vault a deployment creates is the same vault Key Vault's data plane serves, with the same RBAC.

Each write checks, in ARM's order: the name, the caller's write action at the resource (403
`AuthorizationFailed`), the parent (404 `ResourceGroupNotFound` / `ResourceNotFound`), the body, then global
name uniqueness (vaults and storage accounts are named globally: 409 `VaultAlreadyExists`,
`StorageAccountAlreadyTaken`). A write returns the resource and whether it created it (201) or updated it (200).
"""

from __future__ import annotations

import re
from typing import Any

from ....core.errors import ArmError
from ....core.world import ArmResource, World
from ...keyvault.common.models import Secret, SecretVersion, Vault, new_version_id, unix, valid_name
from ...keyvault.state import KeyVaultState
from ..common.authz import authorize
from ..common.context import Ctx, require_scope

__all__ = [
    "RG_WRITE",
    "SECRET_WRITE",
    "STORAGE_WRITE",
    "VAULT_WRITE",
    "get_secret",
    "get_storage_account",
    "put_resource_group",
    "put_secret",
    "put_storage_account",
    "put_vault",
    "secret_version",
]

RG_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"
VAULT_WRITE = "Microsoft.KeyVault/vaults/write"
SECRET_WRITE = "Microsoft.KeyVault/vaults/secrets/write"
STORAGE_WRITE = "Microsoft.Storage/storageAccounts/write"
_SECRET_READ = "Microsoft.KeyVault/vaults/secrets/read"
_STORAGE_READ = "Microsoft.Storage/storageAccounts/read"
_RG_NAME = re.compile(r"^[-\w.()]{1,89}[-\w()]$")
_VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
_STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_STORAGE_SKUS = (
    "Standard_LRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_ZRS",
    "Premium_LRS",
    "Premium_ZRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
)
_STORAGE_KINDS = ("StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage")


def _invalid(message: str, code: str = "InvalidRequestContent") -> ArmError:
    return ArmError(400, code, message)


def _location(ctx: Ctx) -> str:
    location = ctx.body.get("location")
    if not isinstance(location, str) or not location.strip():
        raise _invalid("The location property is required for this definition.", "LocationRequired")
    return location.replace(" ", "").lower()


def _tags(ctx: Ctx) -> dict[str, str]:
    tags = ctx.body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise _invalid("The request content was invalid and could not be processed: 'tags' must map names to strings.")
    return {str(k): v for k, v in tags.items()}


def _group(ctx: Ctx) -> ArmResource:
    group = ctx.world.resource(f"/subscriptions/{ctx.scope.subscription}/resourceGroups/{ctx.scope.resource_group}")
    if group is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{ctx.scope.resource_group}' could not be found.")
    return group


def put_resource_group(ctx: Ctx) -> tuple[ArmResource, bool]:
    name = ctx.scope.resource_group or ""
    if not _RG_NAME.match(name):
        raise _invalid(
            f"Resource group name '{name}' is invalid: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending "
            "with '.'.",
            "InvalidResourceGroup",
        )
    authorize(ctx.world, ctx.caller, ctx.scope.path, RG_WRITE, ctx.now)
    require_scope(
        ctx.world,
        type(ctx.scope)(
            f"/subscriptions/{ctx.scope.subscription}", "subscription", subscription=ctx.scope.subscription
        ),
    )
    location = _location(ctx)
    tags = _tags(ctx)
    existing = ctx.world.resource(ctx.scope.path)
    if existing is not None:
        if (existing.location or "").lower() != location:
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{location}'. The Resource group already exists in location "
                f"'{existing.location}'.",
            )
        existing.tags = tags
        return existing, False
    group = ArmResource(
        ctx.scope.path, "Microsoft.Resources/resourceGroups", name, location, {"provisioningState": "Succeeded"}, tags
    )
    ctx.world.add_resource(group)
    return group, True


def _keyvault(world: World) -> KeyVaultState:
    return world.service("keyvault", KeyVaultState)


def put_vault(ctx: Ctx) -> tuple[ArmResource, bool]:
    name = ctx.scope.resource_name or ""
    if not _VAULT_NAME.match(name):
        raise _invalid(
            f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The "
            "name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
            "VaultNameNotValid",
        )
    authorize(ctx.world, ctx.caller, ctx.scope.path, VAULT_WRITE, ctx.now)
    group = _group(ctx)
    location = _location(ctx)
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise _invalid("The request content was invalid and could not be processed: 'properties' is required.")
    sku = props.get("sku")
    if not isinstance(sku, dict) or str(sku.get("name", "")).lower() not in ("standard", "premium"):
        raise _invalid(
            "The parameter 'properties.sku' is required: {'family': 'A', 'name': 'standard|premium'}.", "BadRequest"
        )
    if str(props.get("tenantId", "")).lower() != ctx.world.tenant_id:
        raise _invalid(f"The tenant id '{props.get('tenantId')}' is not the tenant of the subscription.", "BadRequest")
    if props.get("enableRbacAuthorization") is not True:
        raise _invalid(
            "The emulator serves vaults with RBAC authorization only: set properties.enableRbacAuthorization to true "
            "(access policies are not emulated).",
            "BadRequest",
        )
    state = _keyvault(ctx.world)
    taken = next((v for v in state.vaults.values() if v.name.lower() == name.lower()), None)
    if taken is not None and taken.resource_id.lower() != ctx.scope.path.lower():
        raise ArmError(
            409,
            "VaultAlreadyExists",
            f"The vault name '{name}' is already in use. Vault names are "
            "globally unique so it is possible that the name is already taken.",
        )
    properties = {
        "tenantId": ctx.world.tenant_id,
        "sku": {"family": "A", "name": str(sku["name"]).lower()},
        "enableRbacAuthorization": True,
        "enableSoftDelete": bool(props.get("enableSoftDelete", True)),
        "softDeleteRetentionInDays": int(props.get("softDeleteRetentionInDays") or 90),
        "enablePurgeProtection": bool(props.get("enablePurgeProtection", False)),
    }
    existing = ctx.world.resource(ctx.scope.path)
    if existing is not None:
        existing.properties.update(properties)
        existing.tags = _tags(ctx)
        return existing, False
    resource_id = f"{group.id}/providers/Microsoft.KeyVault/vaults/{name}"
    vault = ArmResource(resource_id, "Microsoft.KeyVault/vaults", name, location, properties, _tags(ctx))
    ctx.world.add_resource(vault)
    state.vaults[name] = Vault(name=name, resource_id=resource_id, location=location)
    ctx.world.vault_url(name)  # the vault's data-plane listener
    return vault, True


def _vault_of_secret(ctx: Ctx) -> tuple[ArmResource, Vault, str]:
    parts = ctx.scope.path.split("/")
    vault_id, secret = "/".join(parts[:-2]), parts[-1]
    resource = ctx.world.resource(vault_id)
    if resource is None:
        _group(ctx)
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/vaults/{parts[-3]}' under resource "
            f"group '{ctx.scope.resource_group}' was not found.",
        )
    vault = _keyvault(ctx.world).vault(resource.name)
    assert vault is not None
    return resource, vault, secret


def secret_version(vault: Vault, name: str) -> SecretVersion | None:
    secret = vault.secret(name)
    return secret.latest if secret is not None else None


def put_secret(ctx: Ctx) -> tuple[ArmResource, Vault, Secret, bool]:
    """Create a secret or a new version of it (only when the value or settings change); the value is write-only."""
    authorize(ctx.world, ctx.caller, ctx.scope.path, SECRET_WRITE, ctx.now)
    resource, vault, name = _vault_of_secret(ctx)
    if not valid_name(name):
        raise _invalid(f"The secret name '{name}' is invalid: 1-127 letters, digits and '-'.", "BadRequest")
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise _invalid("The request content was invalid and could not be processed: 'properties' is required.")
    current = vault.secret(name)
    value = props.get("value")
    if value is None and current is None:
        raise _invalid("The parameter 'properties.value' is required when a secret is created.", "BadRequest")
    if value is not None and not isinstance(value, str):
        raise _invalid("The parameter 'properties.value' must be a string.", "BadRequest")
    content_type = props.get("contentType")
    attributes = props.get("attributes") or {}
    enabled = bool(attributes.get("enabled", True)) if isinstance(attributes, dict) else True
    latest = current.latest if current is not None else None
    new_value = value if value is not None else latest.value if latest is not None else ""
    unchanged = latest is not None and (latest.value, latest.content_type, latest.enabled) == (
        new_value,
        content_type,
        enabled,
    )
    if current is not None and unchanged:
        return resource, vault, current, False
    moment = unix(ctx.now)
    secret = current or Secret(name)
    secret.add(
        SecretVersion(
            new_version_id(), new_value, content_type, enabled, None, None, _tags(ctx) or None, moment, moment
        )
    )
    vault.secrets[name.lower()] = secret
    return resource, vault, secret, current is None


def get_secret(ctx: Ctx) -> tuple[ArmResource, Vault, Secret]:
    authorize(ctx.world, ctx.caller, ctx.scope.path, _SECRET_READ, ctx.now)
    resource, vault, name = _vault_of_secret(ctx)
    secret = vault.secret(name)
    if secret is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/vaults/{vault.name}/secrets/{name}' "
            f"under resource group '{ctx.scope.resource_group}' was not found.",
        )
    return resource, vault, secret


def put_storage_account(ctx: Ctx) -> tuple[ArmResource, bool]:
    name = ctx.scope.resource_name or ""
    if not _STORAGE_NAME.match(name):
        raise _invalid(
            f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters "
            "in length and use numbers and lower-case letters only.",
            "AccountNameInvalid",
        )
    authorize(ctx.world, ctx.caller, ctx.scope.path, STORAGE_WRITE, ctx.now)
    group = _group(ctx)
    location = _location(ctx)
    sku = ctx.body.get("sku")
    if not isinstance(sku, dict) or sku.get("name") not in _STORAGE_SKUS:
        raise _invalid(f"The sku name must be one of {', '.join(_STORAGE_SKUS)}.", "InvalidRequestPropertyValue")
    kind = ctx.body.get("kind")
    if kind not in _STORAGE_KINDS:
        raise _invalid(f"The kind must be one of {', '.join(_STORAGE_KINDS)}.", "InvalidRequestPropertyValue")
    props = ctx.body.get("properties") or {}
    if not isinstance(props, dict):
        raise _invalid("The request content was invalid and could not be processed: 'properties' must be an object.")
    taken = next(
        (r for r in ctx.world.resources.values() if r.type == "Microsoft.Storage/storageAccounts" and r.name == name),
        None,
    )
    if taken is not None and taken.id.lower() != ctx.scope.path.lower():
        raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
    properties = {
        "minimumTlsVersion": props.get("minimumTlsVersion", "TLS1_0"),
        "allowBlobPublicAccess": bool(props.get("allowBlobPublicAccess", False)),
        "supportsHttpsTrafficOnly": bool(props.get("supportsHttpsTrafficOnly", True)),
        "allowSharedKeyAccess": bool(props.get("allowSharedKeyAccess", True)),
        "accessTier": props.get("accessTier", "Hot"),
    }
    if taken is not None:
        taken.properties.update(properties)
        taken.sku, taken.kind, taken.tags = {"name": sku["name"]}, kind, _tags(ctx)
        return taken, False
    resource_id = f"{group.id}/providers/Microsoft.Storage/storageAccounts/{name}"
    account = ArmResource(
        resource_id,
        "Microsoft.Storage/storageAccounts",
        name,
        location,
        properties,
        _tags(ctx),
        {"name": sku["name"]},
        str(kind),
    )
    account.properties["creationTime"] = ctx.now.isoformat().replace("+00:00", "Z")
    ctx.world.add_resource(account)
    return account, True


def get_storage_account(ctx: Ctx) -> ArmResource:
    authorize(ctx.world, ctx.caller, ctx.scope.path, _STORAGE_READ, ctx.now)
    _group(ctx)
    resource = ctx.world.resource(ctx.scope.path)
    if resource is None or resource.type != "Microsoft.Storage/storageAccounts":
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Storage/storageAccounts/"
            f"{ctx.scope.resource_name}' under resource group '{ctx.scope.resource_group}' was not found.",
        )
    return resource


def wire_tags(resource: ArmResource) -> dict[str, Any]:
    return dict(resource.tags)
