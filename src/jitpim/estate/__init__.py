"""The Azure side of a jitpim installation: checking an existing estate against the permissions table
(`doctor`), and creating it (`setup github`)."""

from __future__ import annotations

from .doctor import Finding, Status, check_estate
from .setup import SetupOptions, SetupStep, setup_github

__all__ = ["Finding", "SetupOptions", "SetupStep", "Status", "check_estate", "setup_github"]
