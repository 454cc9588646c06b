"""PIM settings as code: role-management policies of Entra roles, PIM groups and Azure roles, exported to
one reviewed YAML file, compared with what is live (drift), and applied (`jitpim pim-policy`)."""

from __future__ import annotations

from .changes import PolicyChange, apply_changes, compare, export_settings
from .document import PolicyEntry, dump_document, load_document, parse_document
from .settings import Approver, Expiry, Notice, RoleSettings

__all__ = [
    "Approver",
    "Expiry",
    "Notice",
    "PolicyChange",
    "PolicyEntry",
    "RoleSettings",
    "apply_changes",
    "compare",
    "dump_document",
    "export_settings",
    "load_document",
    "parse_document",
]
