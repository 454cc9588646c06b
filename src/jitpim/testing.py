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
    "ControlPlaneUserCredential",
    "EmulatedClock",
    "emulator_credential",
    "emulator_provider_context",
    "github_job_environ",
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
