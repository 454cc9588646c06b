"""Identifier formats the real services use."""

from __future__ import annotations

import base64
import uuid

__all__ = ["assignment_instance_id", "is_guid", "new_guid", "stable_guid"]

_NAMESPACE = uuid.UUID("6f1c2a7e-3b1d-4c55-9a0e-6a1f5d4e2b10")


def new_guid() -> str:
    return str(uuid.uuid4())


def stable_guid(*parts: str) -> str:
    """A GUID derived from names, so scenarios without explicit ids still get the same ids every run."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(value) == 36


def assignment_instance_id(role_definition_id: str, principal_id: str, suffix: str = "-1") -> str:
    """Graph's directory role assignment id: base64url(role LE bytes + principal LE bytes) + `-1`."""
    raw = uuid.UUID(role_definition_id).bytes_le + uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + suffix
