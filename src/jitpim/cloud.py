"""Endpoint profiles: which hosts and token audiences jitpim talks to, per cloud.

Confirmed endpoints (Microsoft Learn "Microsoft Graph national cloud deployments", the azure-identity
`AzureAuthorityHosts` constants, Key Vault's "DNS suffixes for base URL" table, the Azure environment
metadata `AzureUSGovernment`/`AzureChinaCloud`, and the Entra workload-identity token-exchange audiences):

    cloud          authority                          ARM                                  Graph
    public         https://login.microsoftonline.com  https://management.azure.com         https://graph.microsoft.com
    usgovernment   https://login.microsoftonline.us   https://management.usgovcloudapi.net https://graph.microsoft.us
    china          https://login.chinacloudapi.cn     https://management.chinacloudapi.cn  https://microsoftgraph.chinacloudapi.cn

    Key Vault DNS suffix / scope: vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn
    (`https://<suffix>/.default`). GitHub-to-Entra token exchange audience: api://AzureADTokenExchange,
    api://AzureADTokenExchangeUSGov, api://AzureADTokenExchangeChina. (US Gov DoD uses
    https://dod-graph.microsoft.us for Graph; not a profile here.)

The `emulator` profile points everything at one loopback origin: authority = base, Graph = base + `/graph`,
ARM = base. Its scopes equal the public cloud's because the emulator issues tokens with the real audiences,
so Microsoft's own clients work against it unchanged. It always needs the emulator's CA bundle: TLS
verification is never disabled, by any profile or setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = ["CHINA", "CLOUD_NAMES", "PUBLIC", "US_GOVERNMENT", "CloudProfile", "emulator_profile", "resolve_cloud"]


@dataclass(frozen=True)
class CloudProfile:
    """Hosts, token scopes and TLS trust for one cloud.

    `graph_url` and `arm_url` are bases without a trailing slash and without an API version
    (`https://graph.microsoft.com`; add `/v1.0/...`). `ca_bundle` is a PEM path trusted *instead of* the
    system store (the emulator's CA), or None for the system store. `instance_discovery` is False where MSAL's
    authority validation must be skipped (the emulator is not a host Microsoft knows).
    """

    name: str
    authority_host: str
    graph_url: str
    arm_url: str
    graph_scope: str
    arm_scope: str
    keyvault_scope: str
    keyvault_dns_suffix: str | None
    ca_bundle: str | None = None
    instance_discovery: bool = True
    token_exchange_audience: str = "api://AzureADTokenExchange"
    # Where GitHub Actions' OIDC issuer publishes its discovery document and keys (the trust anchor for
    # verifying a job's ID token; never taken from the job's environment). The emulator serves its own.
    github_oidc_url: str = "https://token.actions.githubusercontent.com"

    @property
    def is_emulator(self) -> bool:
        return self.name == "emulator"

    @property
    def graph_v1(self) -> str:
        return f"{self.graph_url}/v1.0"

    @property
    def graph_beta(self) -> str:
        return f"{self.graph_url}/beta"

    def vault_url(self, vault_name: str) -> str:
        """`https://<vault>.<suffix>` on a real cloud. The emulator serves each vault on its own port, so its
        vault URLs come from the emulator's ready line (`jitpim emulator env`), not from a DNS suffix."""
        if self.keyvault_dns_suffix is None:
            raise ConfigError(
                f"the {self.name} cloud has no Key Vault DNS suffix; give the vault's URL instead of its name",
                hint="Use the vault URL printed by `jitpim emulator env` (JITPIM_VAULT_URL_<NAME>).",
            )
        return f"https://{vault_name}.{self.keyvault_dns_suffix}"

    def describe(self) -> str:
        trust = f", CA bundle {self.ca_bundle}" if self.ca_bundle else ""
        return f"{self.name} (authority {self.authority_host}, ARM {self.arm_url}, Graph {self.graph_url}{trust})"


PUBLIC = CloudProfile(
    name="public",
    authority_host="https://login.microsoftonline.com",
    graph_url="https://graph.microsoft.com",
    arm_url="https://management.azure.com",
    graph_scope="https://graph.microsoft.com/.default",
    arm_scope="https://management.azure.com/.default",
    keyvault_scope="https://vault.azure.net/.default",
    keyvault_dns_suffix="vault.azure.net",
)
US_GOVERNMENT = CloudProfile(
    name="usgovernment",
    authority_host="https://login.microsoftonline.us",
    graph_url="https://graph.microsoft.us",
    arm_url="https://management.usgovcloudapi.net",
    graph_scope="https://graph.microsoft.us/.default",
    arm_scope="https://management.usgovcloudapi.net/.default",
    keyvault_scope="https://vault.usgovcloudapi.net/.default",
    keyvault_dns_suffix="vault.usgovcloudapi.net",
    token_exchange_audience="api://AzureADTokenExchangeUSGov",
)
CHINA = CloudProfile(
    name="china",
    authority_host="https://login.chinacloudapi.cn",
    graph_url="https://microsoftgraph.chinacloudapi.cn",
    arm_url="https://management.chinacloudapi.cn",
    graph_scope="https://microsoftgraph.chinacloudapi.cn/.default",
    arm_scope="https://management.chinacloudapi.cn/.default",
    keyvault_scope="https://vault.azure.cn/.default",
    keyvault_dns_suffix="vault.azure.cn",
    token_exchange_audience="api://AzureADTokenExchangeChina",
)
_PROFILES = {p.name: p for p in (PUBLIC, US_GOVERNMENT, CHINA)}
_ALIASES = {
    "azurecloud": "public",
    "azure": "public",
    "global": "public",
    "azureusgovernment": "usgovernment",
    "usgov": "usgovernment",
    "azurechinacloud": "china",
}
CLOUD_NAMES = (*_PROFILES, "emulator")


_PEM_CERTIFICATE: Final = b"-----BEGIN CERTIFICATE-----"


def _ca_bundle(path: str | os.PathLike[str], source: str) -> str:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ConfigError(
            f"CA bundle {str(path)!r} ({source}) does not exist or is not a file",
            hint="Point JITPIM_CA_BUNDLE at the PEM file the emulator printed as ca_cert.",
        )
    # Checked here, up front: a wrong file (a key, a DER certificate, a config) otherwise surfaces much later as
    # a TLS failure that azure-identity reports as a credentials problem.
    try:
        content = resolved.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"CA bundle {str(path)!r} ({source}) cannot be read: {exc.strerror or exc}",
            hint="Point JITPIM_CA_BUNDLE at a readable PEM file of CA certificates.",
        ) from None
    if _PEM_CERTIFICATE not in content:
        raise ConfigError(
            f"CA bundle {str(path)!r} ({source}) is not a CA certificate: it holds no PEM "
            f"'{_PEM_CERTIFICATE.decode()}' block",
            hint="Point JITPIM_CA_BUNDLE at a PEM file of CA certificates (the emulator prints its own as "
            "ca_cert; convert a DER certificate with `openssl x509 -inform der -in CERT -out CA.pem`).",
        )
    return str(resolved)


def emulator_profile(base_url: str, ca_bundle: str | os.PathLike[str]) -> CloudProfile:
    """The profile of an emulator at `base_url` (`https://127.0.0.1:PORT`) trusting `ca_bundle`."""
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.netloc or parts.path or parts.query:
        raise ConfigError(
            f"emulator URL {base_url!r} must be https://HOST:PORT (no path)",
            hint="Use the `authority` value of the emulator's ready line, e.g. https://127.0.0.1:8443.",
        )
    return replace(
        PUBLIC,
        name="emulator",
        authority_host=base,
        graph_url=f"{base}/graph",
        arm_url=base,
        keyvault_dns_suffix=None,
        ca_bundle=_ca_bundle(ca_bundle, "emulator CA"),
        instance_discovery=False,
        github_oidc_url=f"{base}/github",
    )


def resolve_cloud(
    name: str | None = None,
    *,
    emulator_url: str | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> CloudProfile:
    """The profile named by `name`, else `JITPIM_CLOUD`, else the emulator when `JITPIM_EMULATOR_URL` is set,
    else the public cloud. `emulator_url`/`ca_bundle` default to `JITPIM_EMULATOR_URL`/`JITPIM_CA_BUNDLE`.

    A CA bundle given for a real cloud (a TLS-inspecting proxy's CA) is trusted instead of the system store.
    """
    env = os.environ if environ is None else environ
    emulator_url = emulator_url or env.get("JITPIM_EMULATOR_URL") or None
    ca_bundle = ca_bundle or env.get("JITPIM_CA_BUNDLE") or None
    chosen = (name or env.get("JITPIM_CLOUD") or ("emulator" if emulator_url else "public")).strip().lower()
    chosen = _ALIASES.get(chosen, chosen)
    if chosen == "emulator":
        if not emulator_url:
            raise ConfigError(
                "the emulator cloud needs the emulator's URL",
                hint='Set JITPIM_EMULATOR_URL (and JITPIM_CA_BUNDLE), e.g. `eval "$(jitpim emulator env)"`.',
            )
        if not ca_bundle:
            raise ConfigError(
                "the emulator cloud needs the emulator's CA bundle (TLS verification is never disabled)",
                hint="Set JITPIM_CA_BUNDLE to the ca_cert path the emulator printed.",
            )
        return emulator_profile(emulator_url, ca_bundle)
    profile = _PROFILES.get(chosen)
    if profile is None:
        raise ConfigError(
            f"unknown cloud {name or env.get('JITPIM_CLOUD')!r}", hint=f"Use one of: {', '.join(CLOUD_NAMES)}."
        )
    if ca_bundle:
        profile = replace(profile, ca_bundle=_ca_bundle(ca_bundle, "JITPIM_CA_BUNDLE"))
    return profile
