"""Helpers for testing code that uses jitpim against the embedded emulator (public, test-only: production
code never imports this module).

    from jitpim.emulator import Emulator
    from jitpim.testing import EmulatedClock, github_job_environ

    with Emulator.start() as emu:
        env = github_job_environ(emu.info, workdir=tmp_path)   # a GitHub Actions job of the sample repo
        clock = EmulatedClock(emu)                             # waiting advances the emulator's clock
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "ARM_SCOPE",
    "GRAPH_SCOPE",
    "KEYVAULT_SCOPE",
    "ControlPlaneToken",
    "ControlPlaneUserCredential",
    "EmulatedClock",
    "EmulatorGraph",
    "ProviderContexts",
    "app_credential",
    "app_environ",
    "arm_authorization_client",
    "arm_authorization_client_as",
    "control_plane_token",
    "emulator_credential",
    "emulator_provider_context",
    "github_job_environ",
    "principal_credential",
    "principal_oid",
    "principal_token",
    "resource_group_id",
    "role_definition_id",
    "set_github_job",
    "vault_resource_id",
]


class _Emulator(Protocol):
    @property
    def runtime(self) -> Any: ...

    def advance(self, seconds: float) -> None: ...


class EmulatedClock:
    """A lifecycle clock whose `sleep` advances the emulator's clock instead of waiting: propagation delays,
    PIM's five-minute window and expiries all happen, in no wall time."""

    def __init__(self, emulator: _Emulator) -> None:
        self.emulator = emulator
        self.slept: list[float] = []

    def now(self) -> datetime:
        now: datetime = self.emulator.runtime.clock.now()
        return now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.emulator.advance(max(0.0, seconds))


def github_job_environ(
    info: dict[str, Any],
    *,
    workdir: Path,
    principal: str = "ci-app",
    run_id: str = "9100200300",
    pr_number: int | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a GitHub Actions job of the emulator's sample repository that authenticates as
    `principal` through the emulated OIDC issuer (no client secret), with jitpim pointed at the emulator."""
    oidc = info["github_oidc"]
    app = info["principals"][principal]
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "github_output").touch()
    (workdir / "step_summary").touch()
    ref = f"refs/pull/{pr_number}/merge" if pr_number else "refs/heads/main"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_REPOSITORY": "contoso/payments",
        "GITHUB_REPOSITORY_OWNER": "contoso",
        "GITHUB_REF": ref,
        "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
        "GITHUB_WORKFLOW": "rotate-secrets",
        "GITHUB_JOB": "rotate",
        "GITHUB_RUN_ID": run_id,
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_RUN_NUMBER": "42",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": "pull_request" if pr_number else "workflow_dispatch",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(workdir / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workdir / "step_summary"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["request_token"],
        "AZURE_CLIENT_ID": app["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(workdir / "ledger.sqlite3"),
    }
    env.update(extra or {})
    return env


def app_environ(info: dict[str, Any], who: str, *, home: Path) -> dict[str, str]:
    """The environment of a `jitpim` process acting as scenario app `who` with its client secret (an
    administrator's shell, or a script run with an app's credentials), pointed at the emulator."""
    import os
    import sys

    app = info["principals"][who]
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "AZURE_CLIENT_ID": app["client_id"],
        "AZURE_CLIENT_SECRET": app["client_secret"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
    }


def set_github_job(emulator: _Emulator, *, principal: str = "ci-app", **claims: str) -> None:
    """Make the emulated GitHub issuer's ID tokens describe another job (`repository`, `run_id`, `ref`,
    `event_name`, ...), as GitHub's would for it, and let `principal` trust that job's subject the way an admin
    adds a federated credential. jitpim records provenance from these claims, so a test of a job of another
    repository or run sets them here as well as in `github_job_environ(..., extra=...)`."""
    import uuid
    from dataclasses import replace

    world = emulator.runtime.world
    info = emulator.info  # type: ignore[attr-defined]
    client_id = info["principals"][principal]["client_id"]
    with world.lock:
        world.github_claims.update(claims)
        if "repository" in claims and "repository_owner" not in claims:
            world.github_claims["repository_owner"] = claims["repository"].split("/")[0]
        subject = str(world.github_claims.get("sub") or _github_subject(world.github_claims))
        app = next(a for a in world.directory.applications.values() if a.app_id == client_id)
        if app.federated_credentials and not any(f.subject == subject for f in app.federated_credentials):
            template = app.federated_credentials[0]
            name = f"test-{len(app.federated_credentials)}"
            app.federated_credentials.append(replace(template, id=str(uuid.uuid4()), name=name, subject=subject))


def _github_subject(claims: dict[str, Any]) -> str:
    # GitHub's default `sub`: environment first, then pull_request, then the ref.
    repo = claims.get("repository", "")
    if claims.get("environment"):
        return f"repo:{repo}:environment:{claims['environment']}"
    if claims.get("event_name") == "pull_request":
        return f"repo:{repo}:pull_request"
    return f"repo:{repo}:ref:{claims.get('ref', '')}"


class ControlPlaneUserCredential:
    """A person's delegated token from the emulator's control plane (`POST {control}/tokens`), as an
    interactive sign-in with or without MFA would give it; one token per scope, cached."""

    def __init__(self, info: dict[str, Any], user: str, *, mfa: bool = True) -> None:
        self.info, self.user, self.mfa = info, user, mfa
        self._tokens: dict[str, Any] = {}

    def get_token(self, *scopes: str, **_: Any) -> Any:
        import time

        import requests
        from azure.core.credentials import AccessToken

        scope = scopes[0]
        if scope not in self._tokens:
            response = requests.post(
                f"{self.info['control']}/tokens",
                json={"principal": self.user, "scope": scope, "mfa": self.mfa},
                verify=self.info["ca_cert"],
                timeout=10,
            )
            response.raise_for_status()
            body = response.json()
            self._tokens[scope] = AccessToken(
                body["access_token"], int(time.time()) + int(body.get("expires_in", 3600))
            )
        return self._tokens[scope]


def emulator_credential(info: dict[str, Any], who: str, *, mfa: bool = True) -> Any:
    """A credential for a scenario principal: the app's client secret, or a user's control-plane token."""
    principal = info["principals"][who]
    if principal["type"] != "application":
        return ControlPlaneUserCredential(info, who, mfa=mfa)
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        info["tenant_id"],
        principal["client_id"],
        principal["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


def emulator_provider_context(
    emulator: _Emulator, who: str, mode: Any, *, mfa: bool = True, clients: list[Any] | None = None
) -> Any:
    """A `ProviderContext` acting as scenario principal `who` against the emulator, with retries that never
    wait; API clients are appended to `clients` (when given) so the caller can close them."""
    from .auth import token_claims, whoami
    from .cloud import emulator_profile
    from .http.client import arm_client, graph_client, keyvault_client
    from .providers import ProviderContext

    info = emulator.info  # type: ignore[attr-defined]
    cloud = emulator_profile(info["authority"], info["ca_cert"])
    credential = emulator_credential(info, who, mfa=mfa)
    kept = clients if clients is not None else []

    def keep(client: Any) -> Any:
        kept.append(client)
        return client

    vaults: dict[str, Any] = {}

    def keyvault(url: str) -> Any:
        if url not in vaults:
            vaults[url] = keep(keyvault_client(cloud, credential, url, sleep=lambda _: None))
        return vaults[url]

    return ProviderContext(
        cloud=cloud,
        graph=keep(graph_client(cloud, credential, sleep=lambda _: None)),
        arm=keep(arm_client(cloud, credential, sleep=lambda _: None)),
        identity=whoami(credential, cloud, scope=cloud.graph_scope),
        mode=mode,
        now=emulator.runtime.clock.now,
        keyvault=keyvault,
        fresh_claims=lambda scope: token_claims(emulator_credential(info, who, mfa=mfa), scope),
    )


GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"
KEYVAULT_SCOPE = "https://vault.azure.net/.default"


def app_credential(info: dict[str, Any], name: str) -> Any:
    """A client-secret credential (azure-identity, unchanged) for a scenario application, trusting the
    emulator's CA."""
    from azure.identity import ClientSecretCredential

    app = info["principals"][name]
    return ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


def control_plane_token(info: dict[str, Any], user: str, scope: str, *, mfa: bool | None = True) -> str:
    """A delegated access token for a seeded user, minted now by the control plane (`POST {control}/tokens`);
    `mfa=None` leaves the claim to the user's scenario default."""
    import requests

    body: dict[str, Any] = {"principal": user, "scope": scope}
    if mfa is not None:
        body["mfa"] = mfa
    response = requests.post(f"{info['control']}/tokens", json=body, verify=info["ca_cert"], timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])


class ControlPlaneToken:
    """A credential holding one delegated token for a seeded user, minted at construction (unlike
    `ControlPlaneUserCredential`, which mints on first use): what a client sees is fixed when it is built."""

    def __init__(self, info: dict[str, Any], user: str, scope: str, *, mfa: bool | None = True) -> None:
        self.token = control_plane_token(info, user, scope, mfa=mfa)

    def get_token(self, *scopes: str, **_: Any) -> Any:
        import time

        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3000)


def principal_credential(info: dict[str, Any], who: str, scope: str, *, mfa: bool | None = True) -> Any:
    """A credential for any scenario principal: an app's client secret, or a user's token for `scope` minted
    now (`ControlPlaneToken`)."""
    if info["principals"][who]["type"] == "application":
        return app_credential(info, who)
    return ControlPlaneToken(info, who, scope, mfa=mfa)


def principal_token(info: dict[str, Any], who: str, scope: str, *, mfa: bool | None = True) -> str:
    """A freshly minted access token for any scenario principal (app: client credentials; user: control
    plane)."""
    if info["principals"][who]["type"] == "application":
        return str(app_credential(info, who).get_token(scope).token)
    return control_plane_token(info, who, scope, mfa=mfa)


def arm_authorization_client(info: dict[str, Any], credential: Any) -> Any:
    """Microsoft's `AuthorizationManagementClient` (azure-mgmt-authorization, a test dependency) pointed at the
    emulated ARM of the scenario's subscription."""
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["arm"],
        connection_verify=info["ca_cert"],
        credential_scopes=[ARM_SCOPE],
    )


def arm_authorization_client_as(info: dict[str, Any], who: str, *, mfa: bool | None = True) -> Any:
    """`arm_authorization_client` acting as scenario principal `who` (`principal_credential` for ARM)."""
    return arm_authorization_client(info, principal_credential(info, who, ARM_SCOPE, mfa=mfa))


def principal_oid(info: dict[str, Any], who: str) -> str:
    """The object id of a scenario principal (an app's service principal: the token's `oid`)."""
    return str(info["principals"][who]["object_id"])


def vault_resource_id(info: dict[str, Any], vault: str = "kv-payments") -> str:
    """The ARM resource id of a scenario vault."""
    return str(info["vaults"][vault]["resource_id"])


def resource_group_id(info: dict[str, Any], group: str = "rg-payments") -> str:
    """The ARM resource id of a resource group of the scenario's subscription."""
    return f"/subscriptions/{info['subscription_id']}/resourceGroups/{group}"


def role_definition_id(info: dict[str, Any], guid: str) -> str:
    """The subscription-scoped ARM id of an Azure role definition (built-in guid)."""
    return f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


class EmulatorGraph:
    """Raw Graph calls to the emulator as a scenario principal, each with a freshly minted token (an app's
    client credentials, or a user's control-plane token), over a session that trusts the emulator's CA."""

    def __init__(self, http: Any, info: dict[str, Any]) -> None:
        self.http = http
        self.info = info

    def oid(self, name: str) -> str:
        return principal_oid(self.info, name)

    def token(self, who: str, *, scope: str = GRAPH_SCOPE, mfa: bool = True) -> str:
        return principal_token(self.info, who, scope, mfa=mfa)

    def call(
        self,
        method: str,
        path: str,
        who: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        *,
        version: str = "v1.0",
        mfa: bool = True,
    ) -> Any:
        """`method` `{graph}/{version}{path}` as `who`; returns the `requests.Response`."""
        headers = {"Authorization": f"Bearer {self.token(who, mfa=mfa)}"}
        url = f"{self.info['graph']}/{version}{path}"
        return self.http.request(method, url, json=body, headers=headers, params=params)


class ProviderContexts:
    """Builds `ProviderContext`s for scenario principals (`contexts("ci-app")`, `contexts("alice", Mode.SELF)`)
    and closes every API client they opened."""

    def __init__(self, emulator: _Emulator) -> None:
        self.emulator = emulator
        self.clients: list[Any] = []

    def __call__(self, who: str, mode: Any = None) -> Any:
        from .model import Mode

        return emulator_provider_context(self.emulator, who, mode or Mode.DIRECT, clients=self.clients)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
