"""Graph's directory errors, with the codes and texts Graph answers: an unknown object, a bad request, an id
that is not a GUID, and a refused operation."""

from __future__ import annotations

from ....core.errors import GraphError
from ....core.ids import is_guid

__all__ = ["bad_request", "denied", "not_found", "require_guid"]


def not_found(object_id: str) -> GraphError:
    """The directory's 404 for an id (or UPN) that names nothing."""
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


def bad_request(message: str) -> GraphError:
    return GraphError(400, "Request_BadRequest", message)


def require_guid(value: str) -> str:
    """Object ids in paths must be GUIDs; Graph answers anything else with this 400."""
    if not is_guid(value):
        raise bad_request(f"Invalid object identifier '{value}'.")
    return value.lower()


def denied(message: str = "Insufficient privileges to complete the operation.") -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", message)
