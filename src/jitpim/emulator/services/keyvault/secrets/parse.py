"""Reading SecretSetParameters and SecretUpdateParameters: `value`, `contentType`, `attributes` (`enabled`, `nbf`,
`exp` in Unix seconds) and `tags`. Read-only attributes a client echoes back (`created`, `updated`,
`recoveryLevel`, ...) are ignored, as the service ignores them; a wrong type answers 400 `BadParameter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..common.errors import bad_parameter
from ..common.models import MAX_VALUE_LENGTH

__all__ = ["SecretChanges", "read_changes", "read_value"]

_UNSET: Any = object()


@dataclass(frozen=True)
class SecretChanges:
    """The members a request sets; `_UNSET` marks the ones it leaves alone (PATCH changes only what it names)."""

    content_type: Any = _UNSET
    enabled: Any = _UNSET
    not_before: Any = _UNSET
    expires: Any = _UNSET
    tags: Any = _UNSET

    def given(self, member: str) -> bool:
        return getattr(self, member) is not _UNSET


def _unix(value: Any, member: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_parameter(f"Property '{member}' must be a date-time in Unix seconds.")
    return int(value)


def read_value(body: dict[str, Any]) -> str:
    value = body.get("value")
    if value is None:
        raise bad_parameter("The parameter value is not specified.")
    if not isinstance(value, str):
        raise bad_parameter("Property 'value' must be a string.")
    if len(value) > MAX_VALUE_LENGTH:
        raise bad_parameter(f"Secret is beyond the maximum permitted length of {MAX_VALUE_LENGTH} characters.")
    return value


def read_changes(body: dict[str, Any]) -> SecretChanges:
    changes: dict[str, Any] = {}
    if "contentType" in body:
        content_type = body["contentType"]
        if content_type is not None and not isinstance(content_type, str):
            raise bad_parameter("Property 'contentType' must be a string.")
        changes["content_type"] = content_type
    if "tags" in body:
        tags = body["tags"]
        if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())):
            raise bad_parameter("Property 'tags' must be an object whose values are strings.")
        changes["tags"] = dict(tags) if tags is not None else None
    attributes = body.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise bad_parameter("Property 'attributes' must be an object.")
        if "enabled" in attributes and attributes["enabled"] is not None:
            if not isinstance(attributes["enabled"], bool):
                raise bad_parameter("Property 'enabled' must be a boolean.")
            changes["enabled"] = attributes["enabled"]
        if "nbf" in attributes:
            changes["not_before"] = _unix(attributes["nbf"], "nbf")
        if "exp" in attributes:
            changes["expires"] = _unix(attributes["exp"], "exp")
    return SecretChanges(**changes)
