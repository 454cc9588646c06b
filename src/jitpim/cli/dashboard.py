"""`jitpim dashboard`: serve the read-only web view of a ledger."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError, UsageError
from ._output import LEDGER_HELP, handle_errors

__all__ = ["dashboard"]


@click.command()
@click.option(
    "--ledger",
    envvar="JITPIM_LEDGER",
    help=LEDGER_HELP,
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback requires sign-in (--tenant, --audience) and TLS.",
)
@click.option("--port", default=8400, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pinned public key that lease signatures must verify with; repeat for several. "
    "[default: this machine's signing key, shown as not pinned]",
)
@click.option(
    "--tenant", envvar="AZURE_TENANT_ID", help="Entra tenant whose tokens may sign in. [default: $AZURE_TENANT_ID]"
)
@click.option("--audience", help="Turns sign-in on: the audience a token must carry (this dashboard's app id URI).")
@click.option("--reader", "readers", multiple=True, help="Object id allowed to read; repeat. [default: the tenant]")
@click.option(
    "--cloud",
    envvar="JITPIM_CLOUD",
    type=click.Choice(["public", "usgovernment", "china", "emulator"]),
    help="Cloud whose Entra issues sign-in tokens. [default: public]",
)
@click.option("--emulator-url", envvar="JITPIM_EMULATOR_URL", help="Base URL of a running jitpim emulator.")
@click.option(
    "--ca-bundle",
    envvar="JITPIM_CA_BUNDLE",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle to trust instead of the system store (the emulator's CA).",
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Serve HTTPS: cert.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Serve HTTPS: key.")
@handle_errors
def dashboard(
    ledger: str | None,
    host: str,
    port: int,
    public_keys: tuple[Path, ...],
    tenant: str | None,
    audience: str | None,
    readers: tuple[str, ...],
    cloud: str | None,
    emulator_url: str | None,
    ca_bundle: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Serve a read-only dashboard of the ledger: open grants with time left, privilege-hours per principal,
    role, scope and repository, approvals, problems, and a page per lease with its timeline, provenance and
    signature check. Every table exports as CSV and JSON. It prints one JSON line with its URL when ready.

    \b
    Examples:
      jitpim dashboard                                   # http://127.0.0.1:8400/, this machine's ledger
      jitpim dashboard --ledger postgresql://... --public-key jitpim.pub
      jitpim dashboard --host 0.0.0.0 --tenant $TENANT --audience api://jitpim-dashboard \\
          --tls-cert cert.pem --tls-key key.pem
    """
    from ..audit.signing import load_public_key, load_signer
    from ..audit.store import open_store, store_file
    from ..cloud import resolve_cloud
    from ..dashboard import DashboardConfig
    from ..dashboard.serve import is_loopback, serve
    from ..dashboard.signin import EntraTokenVerifier, SignInPolicy

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", hint="Give both, or neither for loopback HTTP.")
    verifier = None
    if audience:
        if not tenant:
            raise UsageError("sign-in with --audience needs --tenant", hint="Give the tenant id (or AZURE_TENANT_ID).")
        profile = resolve_cloud(cloud, emulator_url=emulator_url, ca_bundle=ca_bundle)
        verifier = EntraTokenVerifier(profile, SignInPolicy(tenant, audience, frozenset(readers)))
    if not is_loopback(host):
        if verifier is None:
            raise ConfigError(
                f"the dashboard on {host} would be readable by anyone who can reach it",
                hint="Listening beyond loopback requires sign-in: pass --audience and --tenant, and TLS.",
            )
        if tls_cert is None:
            raise ConfigError(
                f"sign-in tokens would cross the network to {host} unencrypted",
                hint="Pass --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS-terminating proxy.",
            )
    store = open_store(ledger, read_only=True)
    if public_keys:
        keys = {k.key_id: k for k in (load_public_key(p) for p in public_keys)}
        pinned = True
    else:
        signer = load_signer(ledger_path=store_file(store), create=False)
        keys = {signer.key_id: signer.public} if signer is not None else {}
        pinned = False
    with store:
        serve(
            DashboardConfig(store=store, keys=keys, pinned=pinned, verifier=verifier),
            host=host,
            port=port,
            tls=(tls_cert, tls_key) if tls_cert and tls_key else None,
        )
