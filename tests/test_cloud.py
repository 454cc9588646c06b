"""Cloud profiles and their resolution from arguments and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from jitpim.cloud import CHINA, CLOUD_NAMES, PUBLIC, US_GOVERNMENT, CloudProfile, emulator_profile, resolve_cloud
from jitpim.errors import ConfigError


@pytest.fixture(name="ca")
def _ca(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return str(path)


def test_resolve_cloud_defaults_to_public_when_nothing_is_set() -> None:
    """No name, no environment: the public cloud with the system trust store."""
    profile = resolve_cloud(environ={})
    assert profile == PUBLIC
    assert profile.ca_bundle is None and profile.instance_discovery
    assert profile.graph_scope == "https://graph.microsoft.com/.default"
    assert profile.vault_url("kv") == "https://kv.vault.azure.net"


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("public", PUBLIC),
        ("AzureCloud", PUBLIC),
        ("usgovernment", US_GOVERNMENT),
        ("AzureUSGovernment", US_GOVERNMENT),
        ("china", CHINA),
        ("AzureChinaCloud", CHINA),
    ],
)
def test_resolve_cloud_accepts_names_and_az_aliases_when_given(name: str, profile: CloudProfile) -> None:
    """Our names and the Azure CLI's cloud names select the same profiles."""
    assert resolve_cloud(name, environ={}) == profile
    assert resolve_cloud(environ={"JITPIM_CLOUD": name}) == profile


def test_national_clouds_use_their_own_endpoints_when_selected() -> None:
    """US Government and China have their own authority, ARM, Graph, Key Vault and exchange audience."""
    assert US_GOVERNMENT.authority_host == "https://login.microsoftonline.us"
    assert US_GOVERNMENT.arm_scope == "https://management.usgovcloudapi.net/.default"
    assert US_GOVERNMENT.graph_scope == "https://graph.microsoft.us/.default"
    assert US_GOVERNMENT.vault_url("kv") == "https://kv.vault.usgovcloudapi.net"
    assert US_GOVERNMENT.token_exchange_audience == "api://AzureADTokenExchangeUSGov"
    assert CHINA.authority_host == "https://login.chinacloudapi.cn"
    assert CHINA.graph_url == "https://microsoftgraph.chinacloudapi.cn"
    assert CHINA.graph_scope == "https://microsoftgraph.chinacloudapi.cn/.default"
    assert CHINA.keyvault_scope == "https://vault.azure.cn/.default"
    assert CHINA.token_exchange_audience == "api://AzureADTokenExchangeChina"


def test_emulator_profile_points_everything_at_one_origin_when_built(ca: str) -> None:
    """Authority and ARM are the base, Graph is base/graph, scopes are the public ones, discovery is off."""
    profile = emulator_profile("https://127.0.0.1:8443/", ca)
    assert profile.name == "emulator" and profile.is_emulator
    assert (profile.authority_host, profile.arm_url) == ("https://127.0.0.1:8443", "https://127.0.0.1:8443")
    assert profile.graph_url == "https://127.0.0.1:8443/graph"
    assert profile.graph_v1 == "https://127.0.0.1:8443/graph/v1.0"
    assert (profile.graph_scope, profile.arm_scope, profile.keyvault_scope) == (
        PUBLIC.graph_scope,
        PUBLIC.arm_scope,
        PUBLIC.keyvault_scope,
    )
    assert profile.ca_bundle == ca and not profile.instance_discovery
    with pytest.raises(ConfigError, match="no Key Vault DNS suffix"):
        profile.vault_url("kv-payments")


def test_resolve_cloud_reads_emulator_from_environment_when_url_is_set(ca: str) -> None:
    """JITPIM_EMULATOR_URL alone selects the emulator; JITPIM_CA_BUNDLE supplies its trust."""
    profile = resolve_cloud(environ={"JITPIM_EMULATOR_URL": "https://127.0.0.1:9000", "JITPIM_CA_BUNDLE": ca})
    assert profile.is_emulator and profile.arm_url == "https://127.0.0.1:9000"
    explicit = resolve_cloud("emulator", emulator_url="https://localhost:1", ca_bundle=ca, environ={})
    assert explicit.authority_host == "https://localhost:1"


@pytest.mark.parametrize(
    ("kwargs", "env", "match"),
    [
        ({"name": "emulator"}, {}, "needs the emulator's URL"),
        ({"name": "emulator"}, {"JITPIM_EMULATOR_URL": "https://127.0.0.1:1"}, "CA bundle"),
        ({"name": "emulator", "emulator_url": "http://127.0.0.1:1"}, {"JITPIM_CA_BUNDLE": "CA"}, "must be https"),
        ({"name": "emulator", "emulator_url": "https://127.0.0.1:1/graph"}, {"JITPIM_CA_BUNDLE": "CA"}, "no path"),
        (
            {"name": "emulator", "emulator_url": "https://127.0.0.1:1"},
            {"JITPIM_CA_BUNDLE": "/nonexistent.pem"},
            "does not exist",
        ),
        ({"name": "mars"}, {}, "unknown cloud"),
        ({}, {"JITPIM_CLOUD": "germany"}, "unknown cloud"),
    ],
)
def test_resolve_cloud_raises_config_error_when_settings_are_incomplete(
    kwargs: dict[str, str], env: dict[str, str], match: str, ca: str
) -> None:
    """Missing URL or CA, a non-https URL, a missing CA file and unknown names are ConfigErrors with hints."""
    env = {k: (ca if v == "CA" else v) for k, v in env.items()}
    with pytest.raises(ConfigError, match=match) as info:
        resolve_cloud(environ=env, **kwargs)  # type: ignore[arg-type]
    assert info.value.hint


def test_resolve_cloud_trusts_given_bundle_when_cloud_is_real(ca: str) -> None:
    """A CA bundle for a real cloud (TLS-inspecting proxy) replaces the system store; nothing disables TLS."""
    profile = resolve_cloud("public", environ={"JITPIM_CA_BUNDLE": ca})
    assert profile.ca_bundle == ca and profile.authority_host == PUBLIC.authority_host
    assert not any("verify" in f for f in CloudProfile.__dataclass_fields__)
    assert "emulator" in CLOUD_NAMES
