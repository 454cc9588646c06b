"""The control plane under `/_emulator/`: reset, load a scenario, dump state, move the clock, inject
faults, mint a delegated (user) token as an interactive sign-in would, and set the GitHub job's claims.

It is unauthenticated by design: the emulator only ever listens on loopback.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from .clock.routes import ROUTES as CLOCK
from .credentials.routes import ROUTES as CREDENTIALS
from .faults.routes import ROUTES as FAULTS
from .world.routes import ROUTES as WORLD

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/_emulator"

ROUTES: list[BaseRoute] = [*WORLD, *CLOCK, *FAULTS, *CREDENTIALS]
