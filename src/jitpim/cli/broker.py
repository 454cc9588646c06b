"""`jitpim broker`: run the broker service, or check its policies."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from ._output import emit_json, handle_errors, output_option

__all__ = ["broker"]


@click.group()
def broker() -> None:
    """The broker: CI jobs hold no standing right; the broker verifies each job's GitHub OIDC token, decides
    by Cedar policy (permit, approval required, break-glass, forbid), grants with its own identity, and
    releases and reaps.

    \b
    Typical use:
      jitpim broker check-policy policies/          # syntax and annotations, without starting
      jitpim broker serve --config broker.yaml      # prints one JSON line when ready
    See docs/tutorial/broker.md and docs/reference/broker.md.
    """


@broker.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    envvar="JITPIM_BROKER_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The broker config (YAML). [env: JITPIM_BROKER_CONFIG]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (non-loopback needs TLS).")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate to serve HTTPS with.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
@click.option(
    "--behind-tls-proxy",
    is_flag=True,
    help="Allow plain HTTP on a non-loopback address because an ingress in front terminates TLS (containers).",
)
@click.option(
    "--dashboard/--no-dashboard",
    default=True,
    show_default=True,
    help="Mount the read-only dashboard over the broker's ledger at /dashboard/, behind the broker's Entra "
    "sign-in for people (only when the config has entra:).",
)
@handle_errors
def serve(
    config_path: Path,
    host: str,
    port: int,
    tls_cert: str | None,
    tls_key: str | None,
    behind_tls_proxy: bool,
    dashboard: bool,
) -> None:
    """Serve the broker until SIGINT/SIGTERM. Prints one JSON line on stdout when ready: its `url`, audience,
    policy version and ids, and store kind. Refuses to start on any policy or config error (exit 71).

    The broker's own Azure identity comes from the environment like any jitpim credential: a managed
    identity in Azure, AZURE_CLIENT_ID with a secret or federated token elsewhere, or an emulator principal
    (`eval "$(jitpim emulator env --as admin-app)"`).

    With entra: in the config, the read-only dashboard over the broker's ledger is served at /dashboard/
    (its URL is `dashboard_url` in the ready line); people sign in with an Entra token for the broker.
    """
    from ..broker import BrokerServer, build_broker, load_config

    config = load_config(config_path)
    instance = build_broker(config, environ=dict(os.environ))
    mounted = None
    try:
        if dashboard and instance.entra is not None:
            from ..dashboard.mounted import DASHBOARD_PREFIX, broker_dashboard

            mounted = broker_dashboard(instance)
        server = BrokerServer(
            instance,
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            behind_tls_proxy=behind_tls_proxy,
            mounts={DASHBOARD_PREFIX: mounted.app} if mounted else None,
        )
    except BaseException:
        if mounted is not None:
            mounted.close()
        instance.close()
        raise

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    server.start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    sys.stdout.write(json.dumps(server.ready_line()) + "\n")
    sys.stdout.flush()
    try:
        server.wait()
    finally:
        server.stop()
        if mounted is not None:
            mounted.close()
        instance.close()


@broker.command("check-policy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_option
@handle_errors
def check_policy(paths: tuple[Path, ...], output: str) -> None:
    """Load Cedar policy files or directories as the broker would, and list each policy with its effect,
    approval rule and what it reads. A syntax or annotation error exits 71 naming the file."""
    from ..policy import load_policies

    policies = load_policies(*paths)
    rows: list[dict[str, Any]] = [
        {
            "id": p.policy_id,
            "effect": p.effect,
            "source": p.source,
            "approval": p.approval.to_json() if p.approval else None,
            "break_glass": p.break_glass,
            "reads": list(p.reads),
        }
        for p in policies.policies.values()
    ]
    if output == "json":
        emit_json({"version": policies.version, "policies": rows})
        return
    click.echo(f"{len(rows)} policies, version {policies.version}")
    for p in policies.policies.values():
        extra = " break-glass" if p.break_glass else ""
        if p.approval:
            extra += f" approval {p.approval.count} of {p.approval.group}"
        click.echo(f"  {p.effect:<6} {p.policy_id}{extra}  ({p.source}; reads {', '.join(p.reads)})")
