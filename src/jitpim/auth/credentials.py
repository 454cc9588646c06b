"""Choosing the credential jitpim acts with, and saying why.

Order for `direct` and `broker` mode (an application identity):

1. GitHub Actions OIDC: `ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN` + `AZURE_CLIENT_ID`
   + `AZURE_TENANT_ID` -> `ClientAssertionGrantCredential` (one client-credentials request with a jwt-bearer
   assertion through azure-core, no azure-identity import) whose assertion is a fresh GitHub ID token per call;
2. `AZURE_FEDERATED_TOKEN_FILE` -> the same, its assertion the token file read at every request (Kubernetes,
   or a file a runner writes);
3. `AZURE_CLIENT_SECRET` -> `ClientSecretCredential` (instance discovery off for the emulator);
4. real clouds only: `DefaultAzureCredential` (managed identity, Azure CLI, ...; it reads `os.environ`).

`self` mode is a person: `AZURE_USERNAME`/`AZURE_PASSWORD` -> the password grant (`PasswordGrantCredential`
against the emulator, whose loopback port MSAL's user-realm lookup cannot reach; `UsernamePasswordCredential`
on real clouds; the client id defaults to the Azure CLI's public client), else on real clouds `AzureCliCredential` when
`az` is installed or `InteractiveBrowserCredential`. Application credentials are never used in self mode: an
application cannot `selfActivate`, and picking one would only fail later and less clearly.

Every credential gets `authority=cloud.authority_host` and, when the cloud has one, `connection_verify=`
its CA bundle. Failures surface as `AuthError` with the AADSTS code and message, never a token or secret;
the azure-identity exception is not chained to it, because it references the token request, whose form
carries the client secret or assertion.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..cloud import CloudProfile
from ..errors import AuthError, ConfigError, JitError
from ..http import auth_error_from, connection_refused, is_loopback_url, unreachable_hint
from ..model import Mode
from .assertion_grant import ClientAssertionGrantCredential, token_file_assertion
from .github_oidc import GitHubOidcTokenSource
from .identity import authority_for_tenant
from .password_grant import PasswordGrantCredential

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

__all__ = ["AZURE_CLI_CLIENT_ID", "CredentialChoice", "GuardedCredential", "check_token_file", "credential_for"]

_T = TypeVar("_T")

# The Azure CLI's public client id: a first-party public client that every tenant accepts for sign-in.
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


class GuardedCredential:
    """An azure-identity credential whose failures become `AuthError` (AADSTS code + message only).

    It implements the `TokenCredential` protocol (and `get_token_info`), so it can be handed to
    Microsoft's own clients (SecretClient...) as well as to `ApiClient`.
    """

    def __init__(self, inner: Any, source: str, *, authority: str | None = None) -> None:
        self.inner = inner
        self.source = source
        # Where tokens come from (the cloud's authority host), to say so when nothing answers there.
        self.authority = authority

    def __repr__(self) -> str:
        return f"<GuardedCredential {type(self.inner).__name__}: {self.source}>"

    def _guarded(self, scopes: tuple[str, ...], call: Callable[[], _T]) -> _T:
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

        failure: AuthError
        try:
            return call()
        except JitError:
            raise
        except (ClientAuthenticationError, ValueError) as exc:
            failure = auth_error_from(exc, what=f"{type(self.inner).__name__} getting a token for {' '.join(scopes)}")
            failure.hint = AuthError.default_hint
            if connection_refused(exc):
                failure.hint = unreachable_hint(self.authority or "https://login", what="the token issuer")
        except (ServiceRequestError, ServiceResponseError) as exc:
            # Some credentials (ClientAssertionCredential) let a transport failure through unwrapped.
            issuer = self.authority or "the token issuer"
            refused = connection_refused(exc)
            failure = AuthError(
                f"{type(self.inner).__name__} cannot reach {issuer} "
                f"({'connection refused' if refused else type(exc).__name__})",
                hint=unreachable_hint(self.authority or "https://login", what="the token issuer")
                if refused
                else "Check the network and the cloud profile's authority URL.",
            )
        except OSError as exc:
            # A credential that reads a file (the federated token file, rotated by Kubernetes) lost it mid-run.
            failure = AuthError(
                f"{self.source}: cannot read {exc.filename or 'its file'}: {exc.strerror or type(exc).__name__}",
                hint=_TOKEN_FILE_HINT,
            )
        # Raised outside the handler so that nothing chains to the azure-identity error, which references
        # the token request (its form holds the client secret or assertion) and an open connection pool.
        raise failure

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        def call() -> AccessToken:
            token: AccessToken = self.inner.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )
            return token

        return self._guarded(scopes, call)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        from azure.core.credentials import AccessTokenInfo

        def call() -> AccessTokenInfo:
            if hasattr(self.inner, "get_token_info"):
                info: AccessTokenInfo = self.inner.get_token_info(*scopes, options=options)
                return info
            token = self.inner.get_token(*scopes, **dict(options or {}))
            return AccessTokenInfo(token.token, token.expires_on)

        return self._guarded(scopes, call)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> GuardedCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class CredentialChoice:
    """The credential chosen, the rule that chose it (`kind`), and a sentence saying why (`source`)."""

    credential: GuardedCredential = field(repr=False)
    kind: str  # github-oidc, workload-identity, client-secret, username-password, azure-cli, browser, default
    source: str
    client_id: str | None = None
    tenant_id: str | None = None
    skipped: tuple[str, ...] = ()  # why earlier rules did not apply
    # The GitHub ID token source behind a github-oidc credential (its claims carry the job's provenance).
    github: GitHubOidcTokenSource | None = field(default=None, repr=False)

    def close(self) -> None:
        self.credential.close()

    def __enter__(self) -> CredentialChoice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "client_id": self.client_id,
            "tenant_id": self.tenant_id,
            "skipped": list(self.skipped),
        }


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _transport_kwargs(cloud: CloudProfile, *, msal: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"authority": cloud.authority_host}
    if cloud.ca_bundle:
        kwargs["connection_verify"] = cloud.ca_bundle
    if msal and not cloud.instance_discovery:
        kwargs["disable_instance_discovery"] = True
    if is_loopback_url(cloud.authority_host):
        # Nothing listening on this machine (a stopped emulator) will not start listening during
        # azure-identity's connection retries: fail at once and say so.
        kwargs["retry_connect"] = 0
    return kwargs


def credential_for(
    cloud: CloudProfile,
    *,
    mode: Mode | str,
    environ: Mapping[str, str] | None = None,
    client_id: str | None = None,
    tenant_id: str | None = None,
) -> CredentialChoice:
    """Choose the credential for `mode` from the environment (see the module docstring for the order).

    `client_id`/`tenant_id` override `AZURE_CLIENT_ID`/`AZURE_TENANT_ID` (a target in another tenant passes
    its own tenant). Raises `AuthError` when nothing usable is configured, listing what was looked for.
    """
    env = os.environ if environ is None else environ
    try:
        mode = Mode(mode)
    except ValueError:
        raise ConfigError(f"unknown mode {mode!r}", hint="Use direct, self or broker.") from None
    client_id = client_id or _get(env, "AZURE_CLIENT_ID")
    tenant_id = tenant_id or _get(env, "AZURE_TENANT_ID")
    if tenant_id:
        authority_for_tenant(cloud, tenant_id)  # validates the tenant's form
    try:
        choice = (_user_credential if mode is Mode.SELF else _app_credential)(cloud, env, client_id, tenant_id)
        choice.credential.authority = cloud.authority_host
        return choice
    except ValueError as exc:  # azure-identity validates its arguments with ValueError
        raise ConfigError(f"cannot build the credential: {exc}") from exc


_TOKEN_FILE_HINT = (
    "AZURE_FEDERATED_TOKEN_FILE must name a readable file holding the workload identity's JWT (Kubernetes "
    "projects it into the pod); fix the path, or unset the variable to use another credential."
)
# A federated token is a JWT of a few kilobytes; anything far larger is not one.
_TOKEN_FILE_MAX_BYTES = 64 * 1024


def check_token_file(path: str) -> None:
    """Refuse a federated token file that azure-identity could not use, before any request: missing, not a
    file, unreadable, empty, too large, or not text. Raises `ConfigError` naming the variable, never the token."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_TOKEN_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"AZURE_FEDERATED_TOKEN_FILE names {path}, which does not exist", hint=_TOKEN_FILE_HINT
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"AZURE_FEDERATED_TOKEN_FILE names {path}, a directory", hint=_TOKEN_FILE_HINT) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read AZURE_FEDERATED_TOKEN_FILE {path}: {exc.strerror or type(exc).__name__}",
            hint=_TOKEN_FILE_HINT,
        ) from None
    if len(data) > _TOKEN_FILE_MAX_BYTES:
        raise ConfigError(f"AZURE_FEDERATED_TOKEN_FILE {path} is too large to be a token", hint=_TOKEN_FILE_HINT)
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"AZURE_FEDERATED_TOKEN_FILE {path} is not text", hint=_TOKEN_FILE_HINT) from None
    if not text:
        raise ConfigError(f"AZURE_FEDERATED_TOKEN_FILE {path} is empty", hint=_TOKEN_FILE_HINT)


def _app_credential(
    cloud: CloudProfile, env: Mapping[str, str], client_id: str | None, tenant_id: str | None
) -> CredentialChoice:
    skipped: list[str] = []
    credential: Any
    missing = [n for n, v in (("AZURE_CLIENT_ID", client_id), ("AZURE_TENANT_ID", tenant_id)) if not v]
    request_url = _get(env, "ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = _get(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if request_url and request_token:
        if missing:
            skipped.append(f"GitHub OIDC is available but {' and '.join(missing)} is not set")
        else:
            assert client_id is not None and tenant_id is not None
            source = GitHubOidcTokenSource(
                request_url, request_token, audience=cloud.token_exchange_audience, cloud=cloud
            )
            # One token request through azure-core: no azure-identity (nor MSAL) to import in a CI job.
            credential = ClientAssertionGrantCredential(
                cloud, tenant_id=tenant_id, client_id=client_id, assertion=source
            )
            return CredentialChoice(
                GuardedCredential(credential, "GitHub Actions OIDC"),
                kind="github-oidc",
                source=f"GitHub Actions OIDC token (audience {cloud.token_exchange_audience}) exchanged for "
                f"application {client_id} in tenant {tenant_id}",
                client_id=client_id,
                tenant_id=tenant_id,
                skipped=tuple(skipped),
                github=source,
            )
    else:
        skipped.append("not in a GitHub Actions job with `id-token: write` (no ACTIONS_ID_TOKEN_REQUEST_*)")

    token_file = _get(env, "AZURE_FEDERATED_TOKEN_FILE")
    if token_file and not missing:
        assert client_id is not None and tenant_id is not None
        check_token_file(token_file)

        credential = ClientAssertionGrantCredential(
            cloud, tenant_id=tenant_id, client_id=client_id, assertion=token_file_assertion(token_file)
        )
        return CredentialChoice(
            GuardedCredential(credential, "federated token file"),
            kind="workload-identity",
            source=f"federated token file AZURE_FEDERATED_TOKEN_FILE for application {client_id} in tenant {tenant_id}",
            client_id=client_id,
            tenant_id=tenant_id,
            skipped=tuple(skipped),
        )
    skipped.append("no AZURE_FEDERATED_TOKEN_FILE" if not token_file else f"{' and '.join(missing)} not set")

    secret = _get(env, "AZURE_CLIENT_SECRET")
    if secret and not missing:
        assert client_id is not None and tenant_id is not None
        from azure.identity import ClientSecretCredential

        credential = ClientSecretCredential(tenant_id, client_id, secret, **_transport_kwargs(cloud, msal=True))
        return CredentialChoice(
            GuardedCredential(credential, "client secret"),
            kind="client-secret",
            source=f"client secret (AZURE_CLIENT_SECRET) of application {client_id} in tenant {tenant_id}",
            client_id=client_id,
            tenant_id=tenant_id,
            skipped=tuple(skipped),
        )
    skipped.append("no AZURE_CLIENT_SECRET" if not secret else f"{' and '.join(missing)} not set")

    if not cloud.is_emulator:
        from azure.identity import DefaultAzureCredential

        kwargs = _transport_kwargs(cloud, msal=False)
        credential = DefaultAzureCredential(
            exclude_interactive_browser_credential=True,
            **({"managed_identity_client_id": client_id} if client_id else {}),
            **kwargs,
        )
        return CredentialChoice(
            GuardedCredential(credential, "DefaultAzureCredential"),
            kind="default",
            source="DefaultAzureCredential (managed identity, Azure CLI, ... as available on this machine)",
            client_id=client_id,
            tenant_id=tenant_id,
            skipped=tuple(skipped),
        )
    if _get(env, "AZURE_USERNAME"):
        # A person's sign-in is configured, but direct mode acts as an application: say which flag fixes it.
        raise AuthError(
            "direct mode acts as an application, but only a person's sign-in (AZURE_USERNAME) is configured",
            hint="A person activates their own eligibilities: pass --mode self (or export JITPIM_MODE=self).",
        )
    raise AuthError(
        "no application credential is configured for the emulator (" + "; ".join(skipped) + ")",
        hint='Run `eval "$(jitpim emulator env --as ci-app)"` to export AZURE_CLIENT_ID, AZURE_TENANT_ID and a '
        "secret, or the ACTIONS_ID_TOKEN_REQUEST_* pair of the emulator's GitHub issuer.",
    )


def _user_credential(
    cloud: CloudProfile, env: Mapping[str, str], client_id: str | None, tenant_id: str | None
) -> CredentialChoice:
    credential: Any
    username = _get(env, "AZURE_USERNAME")
    password = _get(env, "AZURE_PASSWORD")
    public_client = client_id or AZURE_CLI_CLIENT_ID
    if username and password and cloud.is_emulator:
        credential = PasswordGrantCredential(
            cloud,
            tenant_id=tenant_id or "organizations",
            client_id=public_client,
            username=username,
            password=password,
        )
        return CredentialChoice(
            GuardedCredential(credential, "username and password"),
            kind="username-password",
            source=f"password sign-in of {username} (AZURE_USERNAME) through client {public_client}",
            client_id=public_client,
            tenant_id=tenant_id,
        )
    if username and password:
        from azure.identity import UsernamePasswordCredential

        with warnings.catch_warnings():
            # Deprecated upstream because it cannot do MFA; jitpim uses it for the emulator and tests only.
            warnings.simplefilter("ignore", DeprecationWarning)
            credential = UsernamePasswordCredential(
                public_client,
                username,
                password,
                tenant_id=tenant_id or "organizations",
                **_transport_kwargs(cloud, msal=True),
            )
        return CredentialChoice(
            GuardedCredential(credential, "username and password"),
            kind="username-password",
            source=f"password sign-in of {username} (AZURE_USERNAME) through client {public_client}",
            client_id=public_client,
            tenant_id=tenant_id,
        )
    if cloud.is_emulator:
        raise AuthError(
            "self mode against the emulator needs a user: AZURE_USERNAME and AZURE_PASSWORD are not set",
            hint='Run `eval "$(jitpim emulator env --as alice)"` (any seeded user).',
        )
    if shutil.which("az", path=env.get("PATH")):
        from azure.identity import AzureCliCredential

        credential = AzureCliCredential(tenant_id=tenant_id or "")
        return CredentialChoice(
            GuardedCredential(credential, "Azure CLI"),
            kind="azure-cli",
            source="the Azure CLI's signed-in user (az login)",
            client_id=None,
            tenant_id=tenant_id,
        )
    from azure.identity import InteractiveBrowserCredential

    credential = InteractiveBrowserCredential(
        client_id=public_client,
        **({"tenant_id": tenant_id} if tenant_id else {}),
        **_transport_kwargs(cloud, msal=True),
    )
    return CredentialChoice(
        GuardedCredential(credential, "browser sign-in"),
        kind="browser",
        source=f"interactive browser sign-in through client {public_client}",
        client_id=public_client,
        tenant_id=tenant_id,
    )
