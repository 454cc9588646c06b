"""Reading a federated identity credential's create or update body, with Graph's validation and error texts."""

from __future__ import annotations

import re
from typing import Any

from ....core.errors import GraphError
from ..common.errors import bad_request

__all__ = ["check_body"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
_PROPERTIES = {"name", "issuer", "subject", "audiences", "description"}
_TYPE = "microsoft.graph.federatedIdentityCredential"


def check_body(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The validated properties of a create or update body."""
    for key in body:
        if key not in _PROPERTIES and key not in ("id", "@odata.type"):
            raise GraphError(
                400,
                "BadRequest",
                f"The property '{key}' does not exist on type '{_TYPE}'. Make sure to only use property names "
                "that are defined by the type or mark the type as open type.",
            )
    out: dict[str, Any] = {}
    for key in ("name", "issuer", "subject"):
        if key not in body:
            if creating:
                raise bad_request(f"Property '{key}' is required for a federated identity credential.")
            continue
        value = body[key]
        if not isinstance(value, str) or not value.strip() or len(value) > 600:
            raise bad_request(
                f"Invalid value specified for property '{key}' of resource 'FederatedIdentityCredential'."
            )
        out[key] = value
    if "name" in out and not _NAME.match(out["name"]):
        raise bad_request(
            "Invalid value specified for property 'name' of resource 'FederatedIdentityCredential': up to 120 "
            "characters, letters, digits, '-', '_' and '.', starting with a letter or digit."
        )
    if "issuer" in out and not out["issuer"].startswith("https://"):
        raise bad_request("Invalid value specified for property 'issuer' of resource 'FederatedIdentityCredential'.")
    if "audiences" in body or creating:
        audiences = body.get("audiences")
        if (
            not isinstance(audiences, list)
            or len(audiences) != 1
            or not all(isinstance(a, str) and a.strip() and len(a) <= 600 for a in audiences)
        ):
            raise GraphError(
                400,
                "InvalidFederatedIdentityCredentialsAudienceLength",
                "Federated identity credentials must have exactly 1 audience.",
            )
        out["audiences"] = list(audiences)
    if "description" in body:
        description = body["description"]
        if description is not None and (not isinstance(description, str) or len(description) > 600):
            raise bad_request(
                "Invalid value specified for property 'description' of resource 'FederatedIdentityCredential'."
            )
        out["description"] = description
    return out
