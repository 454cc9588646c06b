"""CI integrations: GitHub Actions workflow commands, outputs, step summary and masking."""

from __future__ import annotations

from jitpim.ci.github import STEP_SUMMARY_LIMIT_BYTES, GitHubActions, escape_data, escape_property

__all__ = ["STEP_SUMMARY_LIMIT_BYTES", "GitHubActions", "escape_data", "escape_property"]
