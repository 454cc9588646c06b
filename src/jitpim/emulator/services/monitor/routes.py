"""Azure Monitor Logs Ingestion, at the root of the emulator's main port (the data collection endpoint)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .ingestion.routes import ROUTES as INGESTION

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [*INGESTION]
