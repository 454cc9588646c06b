"""What the child of `jitpim exec` gets instead of jitpim's own credential: a token endpoint for its lease.

`scrub_credentials` removes every variable that carries credential material (the GitHub OIDC request pair,
client secrets and certificates, federated token files, passwords, Terraform's ARM_* equivalents, the
audit signing key, a host managed identity's endpoint); `LeaseTokens` starts the loopback managed-identity
endpoint (`jitpim.auth.token_server`) for the audiences the held leases need and gives the variables that
point the child's SDKs at it. With `--pass-credentials` neither happens and the child inherits everything,
including the power to grant itself more than its lease (the risk the flag's help states).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..auth.token_server import LeaseTokenServer, TokenGrant
from ..providers import ProviderContext, ResolvedTarget
from ..providers.audiences import Audience, audience_by_name, lease_audiences

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["CREDENTIAL_VARIABLES", "ChildCredentials", "LeaseTokens", "child_credentials", "scrub_credentials"]

# Variables whose value is, or leads to, a credential the child must not inherit.
CREDENTIAL_VARIABLES: Final = (
    # GitHub Actions OIDC: with these, the child can mint ID tokens and exchange them for jitpim's identity.
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    # azure-identity's EnvironmentCredential / WorkloadIdentityCredential.
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    # Terraform's azurerm/azuread providers and the Go SDK's equivalents.
    "ARM_CLIENT_SECRET",
    "ARM_CLIENT_CERTIFICATE",
    "ARM_CLIENT_CERTIFICATE_PATH",
    "ARM_CLIENT_CERTIFICATE_PASSWORD",
    "ARM_OIDC_TOKEN",
    "ARM_OIDC_TOKEN_FILE_PATH",
    "ARM_OIDC_REQUEST_TOKEN",
    "ARM_OIDC_REQUEST_URL",
    # A managed identity of the host (replaced by the lease's endpoint, or removed).
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    # The audit signing key: with it the child could sign records of its own.
    "JITPIM_SIGNING_KEY",
)


def scrub_credentials(environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """`environ` without the credential variables, and the names that were removed (sorted)."""
    removed = sorted(name for name in CREDENTIAL_VARIABLES if name in environ)
    return {k: v for k, v in environ.items() if k not in CREDENTIAL_VARIABLES}, removed


def _credential(ctx: ProviderContext) -> TokenCredential | None:
    # The identity's credential for the lease's tenant: the one its API clients authenticate with (None for a
    # context injected without API clients, e.g. a library user's own provider: it has nothing to serve).
    credential: TokenCredential | None = getattr(ctx.arm, "credential", None)
    return credential


class _Held(Protocol):
    """What a held lease offers here (`HeldLease`): its target and its tenant's provider context."""

    @property
    def resolved(self) -> ResolvedTarget: ...

    @property
    def ctx(self) -> ProviderContext: ...

    @property
    def grant(self) -> Any: ...


@dataclass
class LeaseTokens:
    """The token endpoint of one `exec`: audiences from the held leases (plus `extra` names), open until
    `close()` or the earliest lease end. Use as a context manager around the child."""

    held: Sequence[_Held]
    now: Callable[[], datetime]
    extra: Sequence[str] = ()
    audiences: list[Audience] = field(default_factory=list)
    server: LeaseTokenServer | None = None

    def _ends_at(self) -> datetime | None:
        ends = [h.grant.end_at for h in self.held if getattr(h.grant, "end_at", None) is not None]
        return min(ends) if ends else None

    def open(self) -> LeaseTokens:
        grants: list[TokenGrant] = []
        for lease in self.held:
            credential = _credential(lease.ctx)
            if credential is None:
                continue
            for audience in lease_audiences(lease.resolved, lease.ctx):
                self.audiences.append(audience)
                grants.append(TokenGrant(audience.resource, credential, audience.reason))
        first = self.held[0].ctx if self.held else None
        extra_credential = _credential(first) if first is not None else None
        if first is not None and extra_credential is not None:
            for name in self.extra:
                for audience in audience_by_name(first.cloud, name):
                    self.audiences.append(audience)
                    grants.append(TokenGrant(audience.resource, extra_credential, audience.reason))
        identities = [lease.ctx.identity for lease in self.held]
        self.server = LeaseTokenServer(
            grants,
            now=self.now,
            ends_at=self._ends_at,
            client_ids=[i.app_id for i in identities if i.app_id],
            object_ids=[i.object_id for i in identities],
        ).start()
        return self

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`environ` scrubbed of credentials, pointed at this endpoint."""
        assert self.server is not None, "open() first"
        env, _ = scrub_credentials(environ)
        env.update(self.server.environment())
        return env

    def describe(self) -> str:
        resources = sorted({a.resource for a in self.audiences})
        return "tokens for " + (", ".join(resources) if resources else "no audience") + " only, while the lease lasts"

    def to_json(self) -> dict[str, Any]:
        server = self.server
        return {
            "audiences": [{"resource": a.resource, "reason": a.reason} for a in self.audiences],
            "served": dict(server.served) if server else {},
            "refused": dict(server.refused) if server else {},
        }

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> LeaseTokens:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ChildCredentials:
    """The environment the child gets (`environ`), the token endpoint serving it (None with
    --pass-credentials), and the credential variables that were withheld."""

    environ: dict[str, str]
    tokens: LeaseTokens | None
    withheld: list[str]

    def describe(self) -> str:
        if self.tokens is None:
            return (
                "the command inherits jitpim's own credential (--pass-credentials): it can do all jitpim's identity can"
            )
        return f"the command gets {self.tokens.describe()}, through a local managed-identity endpoint"

    def to_json(self) -> dict[str, Any]:
        endpoint = self.tokens.to_json() if self.tokens else None
        return {"pass_credentials": self.tokens is None, "withheld": list(self.withheld), "endpoint": endpoint}


@contextmanager
def child_credentials(
    environ: Mapping[str, str],
    held: Sequence[_Held],
    *,
    now: Callable[[], datetime],
    pass_credentials: bool = False,
    audiences: Sequence[str] = (),
) -> Iterator[ChildCredentials]:
    """The child's credentials for as long as the block runs: by default the environment without jitpim's
    credential, pointed at a token endpoint for the held leases' audiences (closed when the block ends, before
    anything is released); with `pass_credentials`, the environment unchanged."""
    if pass_credentials:
        yield ChildCredentials(dict(environ), None, [])
        return
    _, withheld = scrub_credentials(environ)
    with LeaseTokens(held, now, extra=audiences) as tokens:
        yield ChildCredentials(tokens.environment(environ), tokens, withheld)
