"""The running emulator: clock, keys, fault rules and the current world, kept across resets."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .core.clock import EmulatorClock
from .core.faults import FaultInjector
from .core.scenario import apply_scenario, default_scenario
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

    def load(self, scenario: dict[str, Any] | None = None) -> World:
        """(Re)build the world from a scenario (the last one loaded when None); keys and CA stay the same."""
        with self._lock:
            if scenario is not None:
                self.scenario = scenario
            tenant_id = self.scenario["tenant"]["id"]
            issuer = f"https://sts.windows.net/{tenant_id}/"
            if self.entra_key is None or self.entra_key.issuer != issuer:
                self.entra_key = SigningKey.generate(issuer)
            world = World(
                self.scenario,
                self.clock,
                self.base_url,
                entra_key=self.entra_key,
                github_key=self.github_key,
                vault_url=self.vault_url,
            )
            self.clock.reset()
            apply_scenario(world, self.clock.now())
            from .services import attach_all

            attach_all(world)
            for vault in self.scenario.get("vaults") or []:
                self.vault_url(vault["name"])
            first = self._world is None
            self._world = world
            self.faults.clear()
        if not first:
            for listener in list(self.reload_listeners):
                try:
                    listener()
                except Exception:
                    log.exception("publishing the reloaded emulator's info failed")
        return world

    def reset(self) -> World:
        return self.load(self._initial if self.scenario is self._initial else self.scenario)

    def info(self) -> dict[str, Any]:
        world = self.world
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
        vaults = {}
        for vault in world.scenario.get("vaults") or []:
            name = vault["name"]
            vaults[name] = {
                "url": self.vault_url(name),
                "dns_url": world.endpoints.vault_dns_url(name),
                "resource_id": f"{world.subscription_scope}/resourceGroups/{vault['resource_group']}"
                f"/providers/Microsoft.KeyVault/vaults/{name}",
            }
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
        }
