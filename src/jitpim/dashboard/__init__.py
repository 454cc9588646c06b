"""A read-only dashboard over the ledger, and self-contained HTML evidence reports.

`create_app(DashboardConfig(...))` is the ASGI app `jitpim dashboard` serves (and the broker mounts);
`render_report(...)` writes the one-file report of `jitpim audit report --html`.
"""

from __future__ import annotations

from .app import DashboardConfig, create_app
from .report import render_report

__all__ = ["DashboardConfig", "create_app", "render_report"]
