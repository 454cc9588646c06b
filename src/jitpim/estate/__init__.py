"""The Azure side of a jitpim installation: checking an existing estate against the permissions table
(`doctor`)."""

from __future__ import annotations

from .doctor import Finding, Status, check_estate

__all__ = ["Finding", "Status", "check_estate"]
