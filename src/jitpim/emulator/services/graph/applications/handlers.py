"""Application registrations: list/get (by object id or `(appId='...')`), owners, and the password
credentials API (`addPassword`, `removePassword`).

A secret added here works at the token endpoint at once (the core `PasswordCredential` is what the token
issuer checks); a removed one is refused there with AADSTS7000215. Every credential change writes the
Core Directory audit row "Update application \N{EN DASH} Certificates and secrets management" (the
activity name really carries an en dash).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.clock import parse_time
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.ids import is_guid
from ..common.directory import listing, single
from ..common.errors import bad_request
from ..common.shapes import application_json, directory_object_json, password_credential_json
from .backend import add_password_credential, create_application, remove_password_credential
from .context import find_application, read_caller

__all__ = [
    "add_password",
    "create",
    "get_application",
    "list_applications",
    "list_owners",
    "remove_password",
]

_FILTERABLE = {
    "appId",
    "displayName",
    "id",
    "publisherDomain",
    "signInAudience",
    "createdDateTime",
    "uniqueName",
    "identifierUris",
}
_ORDERABLE = {"displayName", "createdDateTime"}


async def list_applications(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        rows = [application_json(a, w) for a in w.directory.applications.values()]
    return json_response(
        listing(
            request,
            rows,
            "applications",
            resource="Application",
            type_name="Microsoft.DirectoryServices.Application",
            fields=_FILTERABLE,
            order_fields=_ORDERABLE,
        )
    )


async def create(request: Request) -> Response:
    """`POST /applications`: 201 with the new registration."""
    w = world(request)
    caller = authenticate(request, w, "graph")
    body = await json_body(request, GraphError, code="BadRequest")
    name = body.get("displayName")
    audience = body.get("signInAudience", "AzureADMyOrg")
    if not isinstance(name, str) or not isinstance(audience, str):
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Application'.")
    with w.lock:
        app = create_application(w, caller, name, audience)
        item = application_json(app, w)
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#applications/$entity", **item},
        status=201,
    )


async def get_application(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        app = find_application(request)
        item = application_json(app, w)
    return json_response(single(request, item, "applications", type_name="Microsoft.DirectoryServices.Application"))


async def list_owners(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        app = find_application(request)
        rows = [o for oid in sorted(app.owners) if (o := directory_object_json(w, oid)) is not None]
    return json_response(
        listing(
            request,
            rows,
            "directoryObjects",
            resource="DirectoryObject",
            type_name="Microsoft.DirectoryServices.DirectoryObject",
            fields={"id", "displayName", "appId", "userPrincipalName"},
        )
    )


def _when(body: dict[str, Any], name: str) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise bad_request(f"Invalid value specified for property '{name}' of resource 'PasswordCredential'.")
    try:
        return parse_time(raw)
    except ValueError:
        raise bad_request(f"Invalid value specified for property '{name}' of resource 'PasswordCredential'.") from None


async def add_password(request: Request) -> Response:
    w = world(request)
    caller = read_caller(request)
    body = await json_body(request, GraphError, code="BadRequest")
    wanted = body.get("passwordCredential") or {}
    if not isinstance(wanted, dict):
        raise bad_request("Invalid value specified for property 'passwordCredential' of resource 'Application'.")
    display_name = wanted.get("displayName")
    if display_name is not None and not isinstance(display_name, str):
        raise bad_request("Invalid value specified for property 'displayName' of resource 'PasswordCredential'.")
    start_wanted = _when(wanted, "startDateTime")
    end_wanted = _when(wanted, "endDateTime")
    with w.lock:
        credential, secret = add_password_credential(
            w, caller, find_application(request), display_name, start_wanted, end_wanted
        )
    version = request.url.path.removeprefix("/graph/").split("/", 1)[0]
    return json_response(
        {
            "@odata.context": f"https://graph.microsoft.com/{version}/$metadata#microsoft.graph.passwordCredential",
            **password_credential_json(credential, secret),
        }
    )


async def remove_password(request: Request) -> Response:
    w = world(request)
    caller = read_caller(request)
    body = await json_body(request, GraphError, code="BadRequest")
    key_id = body.get("keyId")
    if not isinstance(key_id, str) or not is_guid(key_id):
        raise bad_request("Invalid value specified for property 'keyId' of resource 'PasswordCredential'.")
    with w.lock:
        remove_password_credential(w, caller, find_application(request), key_id)
    return no_content()
