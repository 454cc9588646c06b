"""Building what providers need for each tenant: the credential, who it is, and API clients.

One `Session` per command. It chooses the credential from the environment (`jitpim.auth.credential_for`),
learns who that is from a token's claims, and hands providers a `ProviderContext` per tenant (targets may
name another tenant for partner or multi-tenant operations).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..auth import CredentialChoice, Identity, credential_for, token_claims, whoami
from ..cloud import CloudProfile
from ..http import ApiClient, RetryEvent
from ..http.client import arm_client, graph_client, keyvault_client
from ..model import Mode
from ..providers import ProviderContext
from .waiting import Clock

__all__ = ["Session"]


@dataclass
class Session:
    cloud: CloudProfile
    mode: Mode
    clock: Clock
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] | None = None
    on_retry: Callable[[RetryEvent], None] | None = None
    _contexts: dict[str | None, ProviderContext] = field(default_factory=dict, repr=False)
    _choices: list[CredentialChoice] = field(default_factory=list, repr=False)
    _clients: list[ApiClient] = field(default_factory=list, repr=False)

    def _choose(self, tenant: str | None) -> CredentialChoice:
        choice = credential_for(self.cloud, mode=self.mode, environ=self.environ, tenant_id=tenant)
        self._choices.append(choice)
        return choice

    def _client(self, factory: Callable[..., ApiClient], *args: object) -> ApiClient:
        client = factory(self.cloud, *args, sleep=self.sleep, on_retry=self.on_retry)
        self._clients.append(client)
        return client

    @property
    def credential_choice(self) -> CredentialChoice:
        return self._choices[0] if self._choices else self._choose(None)

    def identity(self, tenant: str | None = None) -> Identity:
        return self.context(tenant).identity

    def context(self, tenant: str | None = None) -> ProviderContext:
        if tenant in self._contexts:
            return self._contexts[tenant]
        choice = self._choose(tenant)
        credential = choice.credential
        identity = whoami(credential, self.cloud)

        def fresh_claims(scope: str) -> dict[str, Any]:
            # A new credential has an empty token cache: its token shows the directory roles as of now.
            with credential_for(self.cloud, mode=self.mode, environ=self.environ, tenant_id=tenant) as fresh:
                return token_claims(fresh.credential, scope)

        vaults: dict[str, ApiClient] = {}

        def keyvault(url: str) -> ApiClient:
            if url not in vaults:
                vaults[url] = self._client(keyvault_client, credential, url)
            return vaults[url]

        ctx = ProviderContext(
            cloud=self.cloud,
            graph=self._client(graph_client, credential),
            arm=self._client(arm_client, credential),
            identity=identity,
            mode=self.mode,
            now=self.clock.now,
            keyvault=keyvault,
            fresh_claims=fresh_claims,
        )
        self._contexts[tenant] = ctx
        return ctx

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for choice in self._choices:
            choice.close()
        self._clients.clear()
        self._choices.clear()
        self._contexts.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
