"""The broker as an Azure Functions app (Python v2 programming model): an HTTP trigger that serves the
broker's ASGI app through the Functions library's ASGI adapter, and a timer trigger that runs the reaper,
so grants end at the source even when no job and no request comes.

`deploy/functions/function_app.py` is the entry point the Functions host loads; it only calls
`function_app()`. Configuration comes from app settings: `JITPIM_BROKER_CONFIG` (path of the YAML, deployed
with the app), the managed identity (`AZURE_CLIENT_ID` of a user-assigned one), and any `*_env` variables
the config names. A configuration or policy error fails the app's start (the host reports it), so the
broker never serves with a broken policy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .app import create_app
from .config import load_config
from .factory import build_broker
from .service import Broker

__all__ = ["REAPER_SCHEDULE", "function_app"]

# NCRONTAB (seconds first): every minute. Overridable by the JITPIM_REAPER_SCHEDULE app setting.
REAPER_SCHEDULE = "0 */1 * * * *"
_log = logging.getLogger("jitpim.broker")


def function_app(environ: Mapping[str, str] | None = None, *, broker: Broker | None = None) -> Any:
    """Build the `azure.functions.AsgiFunctionApp` with the HTTP trigger (anonymous at the Functions level:
    the broker authenticates every call itself) and the reaper's timer trigger."""
    import azure.functions as func

    env = dict(os.environ if environ is None else environ)
    if broker is None:
        path = env.get("JITPIM_BROKER_CONFIG")
        if not path:
            raise ConfigError(
                "JITPIM_BROKER_CONFIG is not set", hint="Set the app setting to the broker config's path in the app."
            )
        broker = build_broker(load_config(Path(path), env), environ=env)
    instance = broker
    app = func.AsgiFunctionApp(app=create_app(instance), http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.function_name(name="reaper")
    @app.timer_trigger(arg_name="timer", schedule=env.get("JITPIM_REAPER_SCHEDULE", REAPER_SCHEDULE))
    def reaper(timer: func.TimerRequest) -> None:
        counts = instance.reap()
        _log.info("reaper: %s (past due: %s)", counts, timer.past_due)

    app.broker = instance  # type: ignore[attr-defined]  # for tests and diagnostics
    return app
