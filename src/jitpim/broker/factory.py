"""Building a broker from its configuration: policies (refused as a whole on any error), store, token
verifiers, the granting identity and notifications. Used by `jitpim broker serve`, the Azure Functions app
and the tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..cloud import CloudProfile, resolve_cloud
from ..policy import load_policies
from .config import BrokerConfig
from .granting import Granter
from .notify import Notifier
from .service import Broker
from .store import open_store
from .tokens import EntraVerifier, GitHubVerifier, JwksCache

__all__ = ["build_broker"]


def build_broker(
    config: BrokerConfig,
    *,
    environ: Mapping[str, str],
    cloud: CloudProfile | None = None,
    clock: Any = None,
    grant: bool = True,
    poll_initial: float = 1.0,
) -> Broker:
    """`clock` is a lifecycle clock (`now()`, `sleep()`); tests pass one that advances the emulator."""
    policies = load_policies(*config.policy_paths)  # first: a bad policy stops the start before anything opens
    cloud = cloud or resolve_cloud(environ=environ)
    now: Callable[[], datetime] = clock.now if clock is not None else (lambda: datetime.now(UTC))
    store = open_store(config.store)
    try:
        github = GitHubVerifier(
            issuer=config.github_issuer,
            audience=config.audience,
            keys=JwksCache(config.github_jwks_uri, cloud.ca_bundle),
            # Tokens are judged by the wall clock, like their issuers; `clock` drives leases and the reaper.
            use_token_id=lambda jti, exp: store.use_token_id(jti, exp, datetime.now(UTC)),
        )
        entra = None
        if config.entra_tenant_id:
            authority = cloud.authority_host.rstrip("/")
            entra = EntraVerifier(
                tenant_id=config.entra_tenant_id,
                authority=authority,
                audiences=list(config.entra_audiences),
                keys=JwksCache(f"{authority}/{config.entra_tenant_id}/discovery/v2.0/keys", cloud.ca_bundle),
            )
        granter = (
            Granter(cloud, config.ledger, environ=environ, clock=clock, poll_initial=poll_initial) if grant else None
        )
        return Broker(
            config,
            policies,
            store,
            github,
            entra=entra,
            granter=granter,
            notifier=Notifier(config.notifications, ca_bundle=cloud.ca_bundle),
            clock=now,
        )
    except BaseException:
        store.close()
        raise
