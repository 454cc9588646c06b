"""credential_for against the emulator over HTTPS: the GitHub Actions OIDC path as in a real job, the
federated token file, client secrets, a person's password sign-in, and the failures of each."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from jitpim.auth import (
    AZURE_CLI_CLIENT_ID,
    GitHubOidcTokenSource,
    authority_for_tenant,
    credential_for,
    token_claims,
    unverified_claims,
    whoami,
)
from jitpim.cloud import PUBLIC, CloudProfile, emulator_profile
from jitpim.errors import AuthError, ConfigError
from jitpim.model import Mode


@pytest.fixture(name="cloud")
def _cloud(info: dict[str, Any]) -> CloudProfile:
    return emulator_profile(info["authority"], info["ca_cert"])


@pytest.fixture(name="github_env")
def _github_env(info: dict[str, Any]) -> dict[str, str]:
    """The environment a GitHub Actions job with `id-token: write` sees, pointed at the emulator's issuer."""
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": info["github_oidc"]["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": info["github_oidc"]["request_token"],
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
    }


def test_github_oidc_yields_ci_app_token_when_running_in_actions(
    cloud: CloudProfile, github_env: dict[str, str], info: dict[str, Any]
) -> None:
    """The GitHub path exchanges the job's ID token; the ARM token's oid is ci-app's service principal."""
    choice = credential_for(cloud, mode=Mode.DIRECT, environ=github_env)
    with choice:
        assert choice.kind == "github-oidc"
        assert "GitHub Actions OIDC" in choice.source and info["tenant_id"] in choice.source
        identity = whoami(choice.credential, cloud)
        # A second audience needs a second Entra token, and so a second, fresh GitHub ID token.
        assert choice.github is not None and choice.github.calls == 1
        assert whoami(choice.credential, cloud, scope=cloud.graph_scope).object_id == identity.object_id
        assert choice.github.calls == 2
        whoami(choice.credential, cloud)  # cached by azure-identity: no new assertion needed
        assert choice.github.calls == 2
    ci = info["principals"]["ci-app"]
    assert identity.object_id == ci["object_id"]
    assert (identity.app_id, identity.tenant_id, identity.is_app, identity.has_mfa) == (
        ci["client_id"],
        info["tenant_id"],
        True,
        False,
    )
    assert "application" in identity.describe()


def test_github_source_fetches_fresh_token_when_called_again(cloud: CloudProfile, info: dict[str, Any]) -> None:
    """Every call asks the runner again (GitHub ID tokens live ~5 minutes): two calls, two tokens."""
    source = GitHubOidcTokenSource(
        info["github_oidc"]["request_url"], info["github_oidc"]["request_token"], cloud=cloud
    )
    first, second = source(), source()
    assert first != second and source.calls == 2
    claims = unverified_claims(first)
    assert claims["aud"] == "api://AzureADTokenExchange"
    assert claims["iss"] == "https://token.actions.githubusercontent.com"
    assert claims["sub"] == "repo:contoso/payments:ref:refs/heads/main"
    assert source.url().endswith("&audience=api%3A%2F%2FAzureADTokenExchange")
    assert info["github_oidc"]["request_token"] not in repr(source)


def test_github_oidc_raises_auth_error_when_request_token_is_wrong(
    cloud: CloudProfile, github_env: dict[str, str]
) -> None:
    """A wrong ACTIONS_ID_TOKEN_REQUEST_TOKEN: AuthError naming the 401 and the permission, no secret."""
    env = {**github_env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-the-request-token"}
    with credential_for(cloud, mode="direct", environ=env) as choice, pytest.raises(AuthError) as failure:
        whoami(choice.credential, cloud)
    assert "401" in failure.value.message and "id-token: write" in failure.value.hint
    assert "not-the-request-token" not in str(failure.value) and failure.value.exit_code == 72


def test_github_oidc_raises_aadsts_when_subject_is_not_federated(
    cloud: CloudProfile, github_env: dict[str, str], control: Any
) -> None:
    """A job whose `sub` matches no federated credential: AuthError with AADSTS700213, no token inside."""
    control("github/claims", {"ref": "refs/heads/feature"})
    with credential_for(cloud, mode="direct", environ=github_env) as choice, pytest.raises(AuthError) as failure:
        whoami(choice.credential, cloud)
    assert "AADSTS700213" in failure.value.message
    assert "repo:contoso/payments:ref:refs/heads/feature" in failure.value.message
    assert "eyJ" not in str(failure.value)


def test_workload_identity_file_is_used_when_no_github_variables(
    cloud: CloudProfile, info: dict[str, Any], tmp_path: Path
) -> None:
    """AZURE_FEDERATED_TOKEN_FILE (here: a GitHub ID token written to disk) -> WorkloadIdentityCredential."""
    source = GitHubOidcTokenSource(
        info["github_oidc"]["request_url"], info["github_oidc"]["request_token"], cloud=cloud
    )
    token_file = tmp_path / "token"
    token_file.write_text(source())
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
    }
    with credential_for(cloud, mode="direct", environ=env) as choice:
        assert choice.kind == "workload-identity"
        assert any("GitHub Actions" in s for s in choice.skipped)
        assert whoami(choice.credential, cloud).object_id == info["principals"]["ci-app"]["object_id"]


def test_client_secret_is_used_when_given_and_reports_aadsts_when_wrong(
    cloud: CloudProfile, info: dict[str, Any]
) -> None:
    """AZURE_CLIENT_SECRET -> ClientSecretCredential (no instance discovery); a wrong secret -> AADSTS7000215."""
    app = info["principals"]["admin-app"]
    env = {
        "AZURE_CLIENT_ID": app["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_SECRET": app["client_secret"],
    }
    with credential_for(cloud, mode="broker", environ=env) as choice:
        assert choice.kind == "client-secret"
        assert whoami(choice.credential, cloud).object_id == app["object_id"]
        assert app["client_secret"] not in repr(choice)
    wrong = {**env, "AZURE_CLIENT_SECRET": "wrong-secret-value"}
    with credential_for(cloud, mode="direct", environ=wrong) as choice, pytest.raises(AuthError) as failure:
        whoami(choice.credential, cloud)
    assert "AADSTS7000215" in failure.value.message
    assert "wrong-secret-value" not in str(failure.value)


def test_password_sign_in_is_used_when_mode_is_self(cloud: CloudProfile, info: dict[str, Any]) -> None:
    """A person in self mode: UsernamePasswordCredential via the Azure CLI client; MFA read from `amr`."""
    alice = info["principals"]["alice"]
    env = {
        "AZURE_USERNAME": alice["user_principal_name"],
        "AZURE_PASSWORD": alice["password"],
        "AZURE_TENANT_ID": info["tenant_id"],
        # Application settings are ignored in self mode: an application cannot selfActivate.
        "AZURE_CLIENT_SECRET": "unused",
    }
    with credential_for(cloud, mode="self", environ=env) as choice:
        assert (choice.kind, choice.client_id) == ("username-password", AZURE_CLI_CLIENT_ID)
        identity = whoami(choice.credential, cloud, scope=cloud.graph_scope)
        first = choice.credential.get_token(cloud.arm_scope).token
        assert choice.credential.get_token(cloud.arm_scope).token == first  # cached per scope
        assert alice["password"] not in repr(choice) + repr(choice.credential)
    assert identity.object_id == alice["object_id"] and not identity.is_app
    assert identity.user_principal_name == alice["user_principal_name"]
    assert identity.has_mfa  # alice signs in with MFA in the default scenario
    bad = {**env, "AZURE_PASSWORD": "not-her-password"}
    with credential_for(cloud, mode="self", environ=bad) as choice, pytest.raises(AuthError) as failure:
        whoami(choice.credential, cloud)
    assert "AADSTS50126" in failure.value.message and "not-her-password" not in str(failure.value)


def test_another_tenant_is_refused_when_emulator_does_not_know_it(
    cloud: CloudProfile, github_env: dict[str, str], info: dict[str, Any]
) -> None:
    """A per-target tenant override reaches Entra's token endpoint; an unknown tenant is AADSTS90002."""
    other = "11111111-2222-4333-8444-555555555555"
    with (
        credential_for(cloud, mode="direct", environ=github_env, tenant_id=other) as choice,
        pytest.raises(AuthError) as failure,
    ):
        token_claims(choice.credential, cloud.arm_scope)
    assert choice.tenant_id == other and "AADSTS90002" in failure.value.message
    assert authority_for_tenant(cloud, other) == f"{info['authority']}/{other}"


def test_emulator_needs_configuration_when_no_credential_is_set(
    cloud: CloudProfile, github_env: dict[str, str]
) -> None:
    """Nothing configured: AuthError listing what was looked for, with the `emulator env` hint."""
    with pytest.raises(AuthError) as failure:
        credential_for(cloud, mode="direct", environ={})
    assert "ACTIONS_ID_TOKEN_REQUEST" in failure.value.message and "jitpim emulator env" in failure.value.hint
    partial = {k: v for k, v in github_env.items() if k != "AZURE_CLIENT_ID"}
    with pytest.raises(AuthError, match="AZURE_CLIENT_ID is not set"):
        credential_for(cloud, mode="direct", environ=partial)
    with pytest.raises(AuthError, match="AZURE_USERNAME"):
        credential_for(cloud, mode="self", environ={})
    with pytest.raises(ConfigError, match="unknown mode"):
        credential_for(cloud, mode="sideways", environ={})
    with pytest.raises(AuthError, match="neither a tenant id"):
        credential_for(cloud, mode="direct", environ={"AZURE_TENANT_ID": "not a tenant"})


def test_real_cloud_falls_back_when_no_explicit_credential(tmp_path: Path) -> None:
    """Real clouds: DefaultAzureCredential for apps; the Azure CLI, else a browser, for people. No network."""
    with credential_for(PUBLIC, mode="direct", environ={}) as choice:
        assert choice.kind == "default"
    with credential_for(PUBLIC, mode="self", environ={"PATH": str(tmp_path)}) as choice:
        assert choice.kind == "browser" and choice.client_id == AZURE_CLI_CLIENT_ID
    fake_az = tmp_path / "az"
    fake_az.write_text("#!/bin/sh\nexit 1\n")
    fake_az.chmod(fake_az.stat().st_mode | stat.S_IXUSR)
    with credential_for(PUBLIC, mode="self", environ={"PATH": f"{tmp_path}{os.pathsep}"}) as choice:
        assert choice.kind == "azure-cli"
    env = {"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "contoso.onmicrosoft.com", "AZURE_CLIENT_SECRET": "s"}
    with credential_for(PUBLIC, mode="direct", environ=env) as choice:
        assert choice.kind == "client-secret" and choice.to_json()["tenant_id"] == "contoso.onmicrosoft.com"


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "which does not exist"),
        ("directory", "a directory"),
        ("empty", "is empty"),
        ("binary", "is not text"),
        ("not-a-directory", "cannot read AZURE_FEDERATED_TOKEN_FILE"),
        ("huge", "too large"),
    ],
)
def test_an_unusable_federated_token_file_is_a_config_error_before_any_request(
    cloud: CloudProfile, info: dict[str, Any], tmp_path: Path, setup: str, needle: str
) -> None:
    """AZURE_FEDERATED_TOKEN_FILE naming a missing, empty or unreadable file: ConfigError (71) naming the
    variable and the fix, not azure-identity's FileNotFoundError traceback at the first token request."""
    path = tmp_path / "token"
    if setup == "directory":
        path.mkdir()
    elif setup == "empty":
        path.write_text("  \n")
    elif setup == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    elif setup == "not-a-directory":
        path.write_text("x")
        path = path / "token"
    elif setup == "huge":
        path.write_text("x" * 100_000)
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(path),
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
    }
    with pytest.raises(ConfigError) as failure:
        credential_for(cloud, mode="direct", environ=env)
    assert needle in failure.value.message and "AZURE_FEDERATED_TOKEN_FILE" in failure.value.message
    assert "AZURE_FEDERATED_TOKEN_FILE" in failure.value.hint and failure.value.exit_code == 71


def test_a_federated_token_file_that_disappears_mid_run_is_an_auth_error(
    cloud: CloudProfile, info: dict[str, Any], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJub25lIn0.e30.")
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
    }
    with credential_for(cloud, mode="direct", environ=env) as choice:
        token_file.unlink()
        with pytest.raises(AuthError) as failure:
            choice.credential.get_token(cloud.arm_scope)
    assert "cannot read" in failure.value.message and str(token_file) in failure.value.message
    assert failure.value.__cause__ is None and failure.value.exit_code == 72
