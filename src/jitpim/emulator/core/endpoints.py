"""The emulator's own endpoints as resources, the way a registered cloud names them.

A client pointed at the emulator as a registered cloud (`az cloud register`, a custom azure-identity authority)
asks for tokens whose resource is the emulator's own URL: Graph at `{base}/graph`, ARM at `{base}/`, and Key Vault
at `https://vault.<suffix>`. Entra answers with that resource as the token's audience, and each service accepts
it beside its public-cloud audience.

Key Vault is also served by name, `https://<vault>.vault.localhost:<port>` on the main port (a Host header
names the vault), so a vault URL built from a DNS suffix works, and the 401 challenge names
`https://vault.localhost:<port>`, a domain the request's host ends with, as azure-keyvault-secrets'
`ChallengeAuthPolicy` (and the az CLI on top of it) verifies. `*.localhost` resolves to loopback where the
resolver follows RFC 6761 (systemd-resolved); elsewhere one `/etc/hosts` line per vault does it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["KEYVAULT_DNS_HOST", "Endpoints"]

KEYVAULT_DNS_HOST = "vault.localhost"


class Endpoints:
    """The resource identifiers of one running emulator (`base_url` = `https://127.0.0.1:<port>`)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.port = urlsplit(self.base_url).port or 443

    @property
    def graph(self) -> str:
        return f"{self.base_url}/graph"

    @property
    def graph_localhost(self) -> str:
        """Graph under the name `localhost`: another origin than ARM's `127.0.0.1`, so a client that picks the
        token's resource by the URL's origin (`az rest`) tells Graph from ARM on this one port."""
        return f"https://localhost:{self.port}/graph"

    @property
    def arm(self) -> str:
        return f"{self.base_url}/"

    @property
    def keyvault_dns_suffix(self) -> str:
        """What `az cloud register --suffix-keyvault-dns` takes (with its leading dot): `vault.localhost:<port>`."""
        return f"{KEYVAULT_DNS_HOST}:{self.port}"

    @property
    def keyvault(self) -> str:
        return f"https://{self.keyvault_dns_suffix}"

    def vault_dns_url(self, vault: str) -> str:
        return f"https://{vault}.{self.keyvault_dns_suffix}"

    def vault_of_host(self, host: str) -> str | None:
        """The vault a Host header names (`<vault>.vault.localhost[:port]`), or None."""
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = name.lower().rstrip(".")
        suffix = f".{KEYVAULT_DNS_HOST}"
        if not name.endswith(suffix):
            return None
        vault = name[: -len(suffix)]
        return vault if vault and "." not in vault else None

    def service_of_resource(self, resource: str) -> tuple[str, str] | None:
        """(service key, audience) when `resource` is one of this emulator's own endpoints."""
        trimmed = resource.rstrip("/").lower()
        if trimmed == self.graph.lower():
            return "graph", self.graph
        if trimmed == self.graph_localhost.lower():
            return "graph", self.graph_localhost
        if trimmed == self.base_url.lower():
            return "arm", self.arm
        if trimmed == self.keyvault.lower():
            return "keyvault", self.keyvault
        return None

    def audiences(self, service: str) -> list[str]:
        """The own-endpoint audiences a service accepts besides its public-cloud one."""
        return {"graph": [self.graph, self.graph_localhost], "arm": [self.arm], "keyvault": [self.keyvault]}.get(
            service, []
        )
