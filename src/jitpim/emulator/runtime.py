"""The running emulator: clock, keys, fault rules and the current world, kept across resets."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt

from .core.clock import EmulatorClock
from .core.faults import FaultInjector
from .core.scenario import apply_scenario, default_scenario, tenant_scenarios
from .core.tokens import SigningKey
from .core.world import GITHUB_ISSUER, World

__all__ = ["SECRET_FIELDS", "Runtime", "without_secrets"]

log = logging.getLogger("jitpim.emulator")

# Fields of `Runtime.info()` that are credentials: kept out of anything printed (the ready line).
SECRET_FIELDS = frozenset({"client_secret", "password", "request_token"})


def without_secrets(info: dict[str, Any]) -> dict[str, Any]:
    """`info` with every credential left out, for the terminal; the full info goes to a 0600 file."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in SECRET_FIELDS}
        return value

    result: dict[str, Any] = strip(info)
    return result


class Runtime:
    def __init__(self, *, host: str, port: int, ca_cert: Path, scenario: dict[str, Any] | None = None) -> None:
        self.host = host
        self.port = port
        self.ca_cert = ca_cert
        self.clock = EmulatorClock()
        self.faults = FaultInjector()
        self.vault_ports: dict[str, int] = {}
        self.port_vaults: dict[int, str] = {}
        # Set by the server: binds a new listener for a vault and returns its port.
        self.add_vault_listener: Callable[[str], int] | None = None
        self._initial = scenario or default_scenario()
        self.scenario: dict[str, Any] = self._initial
        self._lock = threading.RLock()
        self.entra_key: SigningKey | None = None
        self.entra_keys: dict[str, SigningKey] = {}  # one issuer per tenant
        self.worlds: dict[str, World] = {}  # tenant id -> world, the primary (partner) tenant first
        self.vault_worlds: dict[str, World] = {}
        self.github_key = SigningKey.generate(GITHUB_ISSUER)
        self._world: World | None = None
        # Called after every load but the first (a reset, a posted scenario), e.g. to rewrite the info file.
        self.reload_listeners: list[Callable[[], object]] = []

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def world(self) -> World:
        if self._world is None:
            raise RuntimeError("the emulator has not loaded a scenario yet")
        return self._world

    def vault_url(self, name: str) -> str:
        port = self.vault_ports.get(name)
        if port is None:
            if self.add_vault_listener is None:
                raise RuntimeError(f"no listener for vault {name!r}")
            port = self.add_vault_listener(name)
            self.vault_ports[name] = port
            self.port_vaults[port] = name
        return f"https://{self.host}:{port}"

    def vault_for_port(self, port: int) -> str | None:
        return self.port_vaults.get(port)

    def vault_for_scope(self, scope: Mapping[str, Any]) -> tuple[str, bool] | None:
        """(vault, reached by name) for an ASGI request: its own port, or a Host header on the main port that
        names a known vault (`<vault>.vault.localhost:<port>`)."""
        server = scope.get("server") or ("", 0)
        by_port = self.port_vaults.get(int(server[1] or 0))
        if by_port is not None:
            return by_port, False
        if self._world is None:
            return None
        host = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"host"), "")
        named = self._world.endpoints.vault_of_host(host)
        if named is None:
            return None
        known = {name.lower(): name for name in self.vault_ports}
        return (known[named], True) if named in known else None

    def _build(self, scenario: dict[str, Any]) -> World:
        tenant_id = str(scenario["tenant"]["id"])
        issuer = f"https://sts.windows.net/{tenant_id}/"
        key = self.entra_keys.get(tenant_id)
        if key is None or key.issuer != issuer:
            key = self.entra_keys[tenant_id] = SigningKey.generate(issuer)
        world = World(
            scenario,
            self.clock,
            self.base_url,
            entra_key=key,
            github_key=self.github_key,
            vault_url=self.vault_url,
        )
        apply_scenario(world, self.clock.now())
        from .services import attach_all

        attach_all(world)
        return world

    def load(self, scenario: dict[str, Any] | None = None) -> World:
        """(Re)build the worlds from a scenario (the last one loaded when None): the primary tenant and each of its
        `tenants` (customer tenants, each with its own principals and credentials); keys and CA stay the same."""
        with self._lock:
            if scenario is not None:
                self.scenario = scenario
            self.clock.reset()
            worlds: dict[str, World] = {}
            for part in (self.scenario, *tenant_scenarios(self.scenario)):
                world = self._build(part)
                worlds[world.tenant_id] = world
            vault_worlds: dict[str, World] = {}
            for world in worlds.values():
                for vault in world.scenario.get("vaults") or []:
                    self.vault_url(vault["name"])
                    vault_worlds[vault["name"]] = world
            primary = next(iter(worlds.values()))
            self.entra_key = primary.entra_key
            first = self._world is None
            self._world = primary
            self.worlds = worlds
            self.vault_worlds = vault_worlds
            self.faults.clear()
        if not first:
            for listener in list(self.reload_listeners):
                try:
                    listener()
                except Exception:
                    log.exception("publishing the reloaded emulator's info failed")
        return primary

    def tick(self) -> datetime:
        """Process what is due at the emulated now in every tenant."""
        now = self.world.tick()
        for world in list(self.worlds.values())[1:]:
            world.tick()
        return now

    def world_for(self, scope: MutableMapping[str, Any]) -> World:
        """The tenant a request is for (cached on the request): the vault it addresses; the subscription of an ARM
        path; the tenant in an Entra path; the `tid` of its bearer token; `?tenant=` on the control plane; else
        the primary tenant."""
        cached = scope.get("jitpim.world")
        if isinstance(cached, World):
            return cached
        world = self._route(scope) or self.world
        scope["jitpim.world"] = world
        return world

    def _route(self, scope: MutableMapping[str, Any]) -> World | None:
        if len(self.worlds) < 2:
            return None
        vault = self.vault_for_scope(scope)
        if vault is not None:
            return self.vault_worlds.get(vault[0]) or self._world_holding(vault[0])
        path = str(scope.get("path", ""))
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0].lower() == "subscriptions":
            for world in self.worlds.values():
                if world.subscription_id.lower() == parts[1].lower():
                    return world
        if parts and parts[0] == "_emulator":
            wanted = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("tenant", [""])[-1]
            return self._tenant(wanted)
        if parts and parts[0] not in ("graph", "github", "providers", "subscriptions", "common"):
            found = self._tenant(parts[0])
            if found is not None:
                return found
        header = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"authorization"), "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = jwt.decode(token.strip(), options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            return self._tenant(str(claims.get("tid", "")))
        return None

    def _world_holding(self, vault: str) -> World | None:
        """The tenant whose subscription holds a vault created at run time (an ARM PUT or a deployment)."""
        for world in self.worlds.values():
            if any(r.type == "Microsoft.KeyVault/vaults" and r.name == vault for r in world.resources.values()):
                self.vault_worlds[vault] = world
                return world
        return None

    def _tenant(self, name: str) -> World | None:
        lowered = name.lower()
        for world in self.worlds.values():
            if lowered in (world.tenant_id, world.directory.domain.lower()):
                return world
        return None

    def reset(self) -> World:
        return self.load(self._initial if self.scenario is self._initial else self.scenario)

    def _principals(self, world: World) -> dict[str, Any]:
        principals: dict[str, Any] = {}
        for name, object_id in world.principal_names.items():
            directory = world.directory
            if object_id in directory.service_principals:
                sp = directory.service_principals[object_id]
                app = directory.application_of_service_principal(object_id)
                principals[name] = {
                    "type": "application",
                    "object_id": object_id,
                    "client_id": sp.app_id,
                    "application_object_id": app.object_id if app else None,
                    "client_secret": world.seeded_client_secrets.get(name),
                    "display_name": sp.display_name,
                }
            elif object_id in directory.users:
                user = directory.users[object_id]
                raw = (world.scenario.get("principals") or {}).get(name, {})
                principals[name] = {
                    "type": "user",
                    "object_id": object_id,
                    "user_principal_name": user.user_principal_name,
                    "password": raw.get("password"),
                    "display_name": user.display_name,
                }
            elif object_id in directory.groups:
                principals[name] = {
                    "type": "group",
                    "object_id": object_id,
                    "display_name": directory.groups[object_id].display_name,
                }
        return principals

    def _vaults(self, world: World) -> dict[str, Any]:
        vaults = {}
        for vault in world.scenario.get("vaults") or []:
            name = vault["name"]
            vaults[name] = {
                "url": self.vault_url(name),
                "dns_url": world.endpoints.vault_dns_url(name),
                "resource_id": f"{world.subscription_scope}/resourceGroups/{vault['resource_group']}"
                f"/providers/Microsoft.KeyVault/vaults/{name}",
            }
        return vaults

    def info(self) -> dict[str, Any]:
        world = self.world
        principals = self._principals(world)
        vaults = self._vaults(world)
        return {
            "ready": True,
            "ca_cert": str(self.ca_cert),
            "tenant_id": world.tenant_id,
            "authority": self.base_url,
            "graph": f"{self.base_url}/graph",
            "arm": self.base_url,
            "subscription_id": world.subscription_id,
            "keyvault_dns_suffix": world.endpoints.keyvault_dns_suffix,
            "keyvault_resource": world.endpoints.keyvault,
            "vaults": vaults,
            "github_oidc": {
                "request_url": f"{self.base_url}/github/idtoken?api-version=2.0",
                "request_token": world.github_request_token,
                "issuer": GITHUB_ISSUER,
                "jwks_uri": f"{self.base_url}/github/.well-known/jwks",
            },
            "control": f"{self.base_url}/_emulator",
            "principals": principals,
            "tenants": {
                tid: {
                    "tenant_id": tid,
                    "domain": other.directory.domain,
                    "subscription_id": other.subscription_id,
                    "vaults": self._vaults(other),
                    "principals": self._principals(other),
                }
                for tid, other in list(self.worlds.items())[1:]
            },
        }
