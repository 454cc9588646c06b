"""The emulator's whole state: one tenant, its subscription, and what each service keeps.

One re-entrant lock guards every change, so concurrent requests never interleave inside a state change.
Services attach their own state objects (`attach`) and register expiry processors (`on_tick`), which run
before every request and on every clock advance, so expiries follow the emulated clock deterministically.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .audit import DirectoryAuditLog
from .clock import EmulatorClock
from .directory import Directory
from .endpoints import Endpoints
from .rbac import Rbac, normalize_scope
from .tokens import SigningKey

__all__ = ["GITHUB_ISSUER", "ArmResource", "Settings", "World"]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
T = TypeVar("T")


@dataclass
class Settings:
    rbac_propagation_seconds: float = 0
    directory_propagation_seconds: float = 0
    access_token_lifetime_seconds: int = 3600
    provisioning_seconds: float = 0


@dataclass
class ArmResource:
    id: str
    type: str
    name: str
    location: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    sku: dict[str, Any] | None = None
    kind: str | None = None


class World:
    def __init__(
        self,
        scenario: dict[str, Any],
        clock: EmulatorClock,
        base_url: str,
        *,
        entra_key: SigningKey,
        github_key: SigningKey,
        vault_url: Callable[[str], str],
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.endpoints = Endpoints(self.base_url)
        self.scenario = scenario
        tenant = scenario.get("tenant", {})
        self.tenant_id: str = tenant["id"]
        self.directory = Directory(self.tenant_id, tenant.get("domain", "contoso.onmicrosoft.com"))
        self.tenant_display_name: str = tenant.get("display_name", "Emulated tenant")
        self.subscription_id: str = scenario["subscription"]["id"]
        self.subscription_name: str = scenario["subscription"].get("display_name", "Emulated subscription")
        self.rbac = Rbac()
        self.resources: dict[str, ArmResource] = {}
        self.audit = DirectoryAuditLog(self.tenant_id)
        self.settings = Settings()
        self.entra_key = entra_key
        self.github_key = github_key
        # Each vault is served on its own port (Key Vault clients expect the vault at the URL's root).
        self.vault_url = vault_url
        self.github_claims: dict[str, Any] = {}
        self.github_request_token = secrets.token_urlsafe(32)
        # Clear-text client secrets of scenario apps, kept only so the ready line can hand them out.
        self.seeded_client_secrets: dict[str, str] = {}
        self.principal_names: dict[str, str] = {}  # scenario name -> object id (SP id for apps)
        self._services: dict[str, Any] = {}
        self._tick_hooks: list[Callable[[datetime], None]] = []

    # identity of the issuer ---------------------------------------------------------------------
    @property
    def authority_issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    # services -------------------------------------------------------------------------------------
    def attach(self, name: str, state: Any) -> None:
        self._services[name] = state

    def service(self, name: str, kind: type[T]) -> T:
        state = self._services[name]
        if not isinstance(state, kind):
            raise TypeError(f"service {name!r} is {type(state).__name__}, not {kind.__name__}")
        return state

    def services(self) -> dict[str, Any]:
        return dict(self._services)

    def on_tick(self, hook: Callable[[datetime], None]) -> None:
        self._tick_hooks.append(hook)

    def tick(self) -> datetime:
        """Process everything due at the emulated now (expiries, scheduled starts)."""
        with self.lock:
            now = self.clock.now()
            for hook in self._tick_hooks:
                hook(now)
            return now

    def apply_settings(self) -> None:
        self.rbac.propagation = timedelta(seconds=self.settings.rbac_propagation_seconds)
        self.directory.propagation = timedelta(seconds=self.settings.directory_propagation_seconds)

    # ARM resources ------------------------------------------------------------------------------
    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    def add_resource(self, resource: ArmResource) -> None:
        self.resources[normalize_scope(resource.id).lower()] = resource

    def resource(self, scope: str) -> ArmResource | None:
        return self.resources.get(normalize_scope(scope).lower())

    def scope_exists(self, scope: str) -> bool:
        return normalize_scope(scope) == "/" or self.resource(scope) is not None

    def principal_id(self, name_or_id: str) -> str | None:
        """Resolve a scenario name, UPN, client id or object id to a principal object id."""
        if name_or_id in self.principal_names:
            return self.principal_names[name_or_id]
        if self.directory.principal_kind(name_or_id):
            return name_or_id
        app = self.directory.application_by_client_id(name_or_id)
        if app:
            return app.service_principal_id
        user = self.directory.user_by_upn(name_or_id)
        if user:
            return user.object_id
        group = next((g for g in self.directory.groups.values() if g.display_name == name_or_id), None)
        return group.object_id if group else None
