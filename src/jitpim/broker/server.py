"""Serving the broker with uvicorn, and its reaper timer: `jitpim broker serve` in the foreground, or a
background thread for tests and `jitpim demo --broker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from .app import create_app
from .service import Broker

__all__ = ["BrokerServer"]

_log = logging.getLogger("jitpim.broker")


class BrokerServer:
    """The broker on `host:port` (port 0 picks a free one); `url` once started. Plain HTTP only on loopback;
    anything else needs a TLS certificate and key, or an explicit `behind_tls_proxy` (a container behind an
    ingress that terminates TLS): tokens never cross an open network in clear."""

    def __init__(
        self,
        broker: Broker,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        reaper_interval: float | None = None,
        behind_tls_proxy: bool = False,
        mounts: Mapping[str, Any] | None = None,
    ) -> None:
        import uvicorn

        from ..errors import ConfigError

        if host not in ("127.0.0.1", "::1", "localhost") and not (tls_cert and tls_key) and not behind_tls_proxy:
            raise ConfigError(
                f"the broker serves plain HTTP only on loopback, not on {host}",
                hint="Give --tls-cert and --tls-key, or --behind-tls-proxy when an ingress terminates TLS in front.",
            )
        self.broker = broker
        self.mounts = dict(mounts or {})
        self.host = "127.0.0.1" if host == "localhost" else host
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, port))
        self.port = int(self._sock.getsockname()[1])
        self.scheme = "https" if tls_cert else "http"
        config = uvicorn.Config(
            create_app(broker, mounts),
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()
        self.reaper_interval = (
            reaper_interval if reaper_interval is not None else broker.config.reaper_interval.total_seconds()
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def ready_line(self) -> dict[str, Any]:
        return {
            "ready": True,
            "url": self.url,
            "audience": self.broker.config.audience,
            "policy_version": self.broker.policies.version,
            "policies": sorted(p.policy_id for p in self.broker.policies.policies.values()),
            "store": "postgresql" if self.broker.store.postgres else "sqlite",
            "reaper_interval_s": self.reaper_interval,
            **{f"{prefix.strip('/')}_url": f"{self.url}{prefix}/" for prefix in self.mounts},
        }

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def _reap_loop(self) -> None:
        while not self._stop.wait(self.reaper_interval):
            try:
                counts = self.broker.reap()
                if any(counts.values()):
                    _log.info("reaper: %s", counts)
            except Exception as exc:  # the timer keeps running; the next pass retries
                _log.warning("reaper pass failed: %s", type(exc).__name__)

    def start(self, timeout: float = 15.0) -> BrokerServer:
        self._thread = threading.Thread(target=self._run, name="jitpim-broker", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the broker did not start")
            time.sleep(0.005)
        if self.reaper_interval > 0:
            self._reaper = threading.Thread(target=self._reap_loop, name="jitpim-broker-reaper", daemon=True)
            self._reaper.start()
        return self

    def wait(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn handles them in the foreground thread's absence via should_exit)."""
        with contextlib.suppress(KeyboardInterrupt):
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if self._reaper is not None:
            self._reaper.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> BrokerServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
