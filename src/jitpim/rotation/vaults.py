"""Finding a vault: from its name, its data-plane URL or its ARM id to both its URL (for the secrets) and its
ARM id (the scope of the role assignment that lets us write them), through the ARM API.

    by name or URL:  GET /subscriptions/{id}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01
                     (Vaults - List By Subscription; ARM lists only the vaults the caller may read)
    by ARM id:       GET {vault id}?api-version=2023-07-01 (`properties.vaultUri`)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from ..errors import ConfigError, ProviderApiError, UsageError
from ..http import ApiClient
from ..model import is_guid, validate_arm_scope

__all__ = ["VAULT_API_VERSION", "VaultRef", "resolve_vault"]

VAULT_API_VERSION: Final = "2023-07-01"
_VAULT_TYPE: Final = "/providers/microsoft.keyvault/vaults/"


@dataclass(frozen=True)
class VaultRef:
    name: str
    url: str  # data-plane base URL, no trailing slash
    resource_id: str  # ARM id: the scope to grant on

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url, "resource_id": self.resource_id}


def _url(text: str) -> str:
    return text.strip().rstrip("/")


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(_url(a)), urlsplit(_url(b))
    return (pa.scheme, pa.netloc.lower(), pa.path) == (pb.scheme, pb.netloc.lower(), pb.path)


def _ref(vault: dict[str, Any]) -> VaultRef:
    uri = (vault.get("properties") or {}).get("vaultUri")
    if not isinstance(uri, str) or not uri:
        raise ConfigError(f"vault {vault.get('id')} has no vaultUri in ARM")
    return VaultRef(str(vault.get("name")), _url(uri), str(vault.get("id")))


def resolve_vault(arm: ApiClient, ref: str, *, subscription_id: str | None) -> VaultRef:
    """The vault named by `ref`: a name, a `https://` data-plane URL, or an ARM resource id.

    Names and URLs are looked up in `subscription_id`; the caller must be able to read the vault in ARM (a
    CI identity allowed to assign roles on it can)."""
    text = ref.strip()
    if not text:
        raise UsageError("--vault is empty")
    if text.startswith("/"):
        scope = validate_arm_scope(text)
        if _VAULT_TYPE not in scope.lower():
            raise UsageError(f"{ref!r} is not a Key Vault resource id")
        body = arm.get(scope, params={"api-version": VAULT_API_VERSION}, expected=(200,)).json
        return _ref(body)
    if not subscription_id:
        raise ConfigError(
            f"finding vault {text!r} needs the subscription it is in",
            hint="Pass --subscription ID or set AZURE_SUBSCRIPTION_ID, or give the vault's ARM id.",
        )
    if not is_guid(subscription_id):
        raise UsageError(f"subscription {subscription_id!r} is not a subscription id (a GUID)")
    path = f"/subscriptions/{subscription_id}/providers/Microsoft.KeyVault/vaults"
    try:
        vaults = [_ref(v) for v in arm.paged(path, {"api-version": VAULT_API_VERSION})]
    except ProviderApiError as exc:
        raise ConfigError(
            f"cannot list the Key Vaults of subscription {subscription_id}: {exc.message}",
            hint="The identity needs read access to the vault in ARM (any role on it, e.g. the right to assign).",
        ) from exc
    if text.lower().startswith("https://"):
        found = [v for v in vaults if _same_url(v.url, text)]
    elif text.lower().startswith("http://"):
        raise UsageError(f"vault URL {text!r} is not https")
    else:
        found = [v for v in vaults if v.name.lower() == text.lower()]
    if not found:
        visible = ", ".join(sorted(v.name for v in vaults)) or "none"
        raise ConfigError(
            f"no vault {text!r} visible in subscription {subscription_id}",
            hint=f"Vaults this identity can read there: {visible}.",
        )
    return found[0]
