"""Serving the dashboard with uvicorn: bind first (so port 0 works and the ready line carries the real port),
print one JSON ready line, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jitpim.errors import ConfigError

from .app import DashboardConfig, create_app

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="Pick another --port (0 chooses a free one) or stop what is using it.",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    config: DashboardConfig,
    *,
    host: str,
    port: int,
    tls: tuple[Path, Path] | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    import uvicorn

    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    info = {
        "url": f"{scheme}://{shown}:{bound}/",
        "ledger": str(getattr(config.store, "path", "postgresql")),
        "sign_in": config.verifier is not None,
    }
    uv_config = uvicorn.Config(
        create_app(config),
        log_level="warning",
        access_log=False,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
        lifespan="off",
    )
    server = uvicorn.Server(uv_config)
    (on_ready or _print_ready)(info)
    server.run(sockets=[sock])


def _print_ready(info: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
