"""What every secrets request goes through before its operation runs, in the service's order:

1. the vault: the port the request arrived on names it;
2. authentication: no or a bad bearer token answers 401 with the `WWW-Authenticate` challenge that
   azure-keyvault-secrets' `ChallengeAuthPolicy` parses (its first, empty-bodied probe lands here);
3. the `api-version` query parameter, then the object name from the URL (400 `BadParameter`);
4. RBAC: the operation's data action on the secret or vault scope (403 `ForbiddenByRbac`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ....core.auth import authenticate
from ....core.errors import KeyVaultError
from ....core.http import json_body, runtime
from ....core.http import world as world_of
from ....core.tokens import Caller
from ....core.world import World
from ..state import KeyVaultState
from .authz import authorize
from .errors import SUPPORTED_API_VERSIONS, invalid_name, unsupported_api_version, vault_not_found
from .models import Recovery, Vault, valid_name

__all__ = ["VaultCall", "open_call"]


@dataclass(frozen=True)
class VaultCall:
    """An authenticated, authorized request against one vault."""

    request: Request
    world: World
    state: KeyVaultState
    vault: Vault
    caller: Caller
    api_version: str
    by_name: bool = False  # reached as `<vault>.vault.localhost` rather than on the vault's own port

    @property
    def base_url(self) -> str:
        """The vault URL the client used: ids and next links in responses are built on it."""
        if self.by_name:
            return self.world.endpoints.vault_dns_url(self.vault.name)
        return self.world.vault_url(self.vault.name)

    @property
    def recovery(self) -> Recovery:
        return self.state.recovery(self.vault)

    async def body(self) -> dict[str, Any]:
        """The JSON body; malformed JSON answers 400 `BadParameter`. Read it before taking the world's lock."""
        return await json_body(self.request, KeyVaultError, code="BadParameter")


def open_call(request: Request, action: str, *, secret: str | None = None) -> VaultCall:
    """Authenticate, validate and authorize `action` (on `secret`, when the operation targets one)."""
    rt = runtime(request)
    world = world_of(request)
    found = rt.vault_for_scope(request.scope)
    vault_name, by_name = found if found is not None else ("", False)
    state = world.service("keyvault", KeyVaultState)
    vault = state.vault(vault_name)
    if vault is None:
        raise vault_not_found(vault_name)
    caller = authenticate(request, world, "keyvault")
    api_version = request.query_params.get("api-version", "")
    if api_version not in SUPPORTED_API_VERSIONS:
        raise unsupported_api_version(api_version)
    if secret is not None and not valid_name(secret):
        raise invalid_name(secret)
    with world.lock:
        authorize(world, caller, vault, action, secret)
    return VaultCall(request, world, state, vault, caller, api_version, by_name)
