"""Serving the emulator over HTTPS on loopback: in a background thread (tests, `jitpim demo`) or in the
foreground (`jitpim emulator serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .core.endpoints import KEYVAULT_DNS_HOST
from .core.scenario import default_scenario, load_scenario_file
from .core.tls import TlsMaterial, generate_tls
from .runtime import Runtime
from .state_lock import StateDirLock

__all__ = ["Emulator"]

_TICK_SECONDS = 1.0


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening socket
    # says it is TCP; with proto 0 every response waits ~40 ms for Nagle and delayed ACKs.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server plus listeners added at run time (one per vault) and the expiry ticker."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)
        self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while not self.should_exit:
            await asyncio.sleep(_TICK_SECONDS)
            with contextlib.suppress(Exception):
                self.runtime.tick()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        # Idle keep-alive TLS connections of clients never close on their own: waiting for them only delays
        # the stop (by uvicorn's graceful timeout). Requests are short; in-flight ones get 0.1 s to finish.
        self.force_exit = True
        await super().shutdown(sockets=sockets)

    async def listen(self, sock: socket.socket) -> None:
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )

        server = await asyncio.get_running_loop().create_server(
            create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog
        )
        self.servers.append(server)


class Emulator:
    """A running emulator. `Emulator.start()` serves it in a background thread; use it as a context manager.

    `info` is the ready line's content: endpoints, tenant, CA path, principals and their credentials.
    A `state_dir` given by the caller is held exclusively (`StateDirInUseError` when another emulator serves it).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: dict[str, Any] | str | Path | None = None,
        state_dir: Path | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator serves loopback only (127.0.0.1, ::1 or localhost)")
        self.host = "127.0.0.1" if host == "localhost" else host
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock: StateDirLock | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="jitpim-emulator-")
            state_dir = Path(self._tmp.name)
        else:
            # Before anything is written there: a second emulator must not replace the first one's CA.
            self._lock = StateDirLock(state_dir)
            self._lock.acquire()
        self.state_dir = state_dir
        try:
            self._setup(host, port, scenario)
        except BaseException:
            self._release()
            raise

    def _setup(self, host: str, port: int, scenario: dict[str, Any] | str | Path | None) -> None:
        state_dir = self.state_dir
        if isinstance(scenario, str | Path):
            scenario_data = load_scenario_file(scenario)
        else:
            scenario_data = scenario or default_scenario()
        self._sock = _bind(self.host, port)
        bound_port = int(self._sock.getsockname()[1])
        # `*.vault.localhost`: vaults reached by name (see core/endpoints.py).
        self.tls: TlsMaterial = generate_tls(state_dir, [self.host, "localhost", f"*.{KEYVAULT_DNS_HOST}"])
        self.runtime = Runtime(host=self.host, port=bound_port, ca_cert=self.tls.ca_cert, scenario=scenario_data)
        self._pending: list[socket.socket] = [self._sock]
        self.runtime.add_vault_listener = self._add_vault_listener
        config = uvicorn.Config(
            create_app(self.runtime),
            ssl_certfile=str(self.tls.server_cert),
            ssl_keyfile=str(self.tls.server_key),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config, self.runtime)
        self.runtime.load()
        self._thread: threading.Thread | None = None

    # listeners --------------------------------------------------------------------------------------
    def _add_vault_listener(self, name: str) -> int:
        sock = _bind(self.host, 0)
        port = int(sock.getsockname()[1])
        loop = self._server.loop
        if loop is None or not self._server.started:
            self._pending.append(sock)  # bound with the others at start
        else:
            if threading.current_thread() is self._thread:
                # Called from a request handler on the server's loop (a scenario was loaded).
                loop.create_task(self._server.listen(sock))
            else:
                asyncio.run_coroutine_threadsafe(self._server.listen(sock), loop).result(timeout=10)
        return port

    # lifecycle -----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def info(self) -> dict[str, Any]:
        return self.runtime.info()

    @property
    def base_url(self) -> str:
        return self.runtime.base_url

    @classmethod
    def start(cls, **kwargs: Any) -> Emulator:
        emulator = cls(**kwargs)
        emulator.start_background()
        return emulator

    def start_background(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name="jitpim-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start within {timeout} s")
            time.sleep(0.005)

    def _run(self) -> None:
        self._server.run(sockets=self._pending)

    def serve_forever(
        self,
        on_ready: Callable[[dict[str, Any]], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """Serve in the foreground until SIGINT/SIGTERM; `on_ready(info)` runs once listeners are up, `on_stop()`
        once they are closed but while the state folder is still held (so no successor's files are touched)."""
        self._thread = threading.Thread(target=self._run, name="jitpim-emulator", daemon=True)
        self._thread.start()
        try:
            while not self._server.started:
                if not self._thread.is_alive():
                    raise RuntimeError("the emulator failed to start")
                time.sleep(0.005)
            if on_ready is not None:
                on_ready(self.info)
            while self._thread.is_alive():
                self._thread.join(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._server.should_exit = True
            if self._thread is not threading.current_thread():
                self._thread.join(timeout=10)
            try:
                if on_stop is not None:
                    on_stop()
            finally:
                self.stop()

    def on_reload(self, callback: Callable[[dict[str, Any]], object]) -> None:
        """Call `callback(info)` after every later (re)load of the world (a reset, a posted scenario): the
        principals' generated secrets change with it, so whatever published the ready line publishes again."""
        self.runtime.reload_listeners.append(lambda: callback(self.info))

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._release()

    def _release(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Emulator:
        if self._thread is None:
            self.start_background()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # in-process control (the same operations the control plane serves over HTTPS) ---------------------
    def reset(self) -> None:
        self.runtime.reset()

    def advance(self, seconds: float) -> None:
        self.runtime.clock.advance(seconds)
        self.runtime.tick()
