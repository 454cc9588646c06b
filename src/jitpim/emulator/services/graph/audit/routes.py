"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..common.routing import graph_route
from .handlers import get_audit, list_audits

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *graph_route("/auditLogs/directoryAudits", list_audits, ["GET"]),
    *graph_route("/auditLogs/directoryAudits/{key}", get_audit, ["GET"]),
]
