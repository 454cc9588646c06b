"""Application registrations: list/get (by object id or `(appId='...')`), owners, and the password
credentials API (`addPassword`, `removePassword`).

A secret added here works at the token endpoint at once (the core `PasswordCredential` is what the token
issuer checks); a removed one is refused there with AADSTS7000215. Every credential change writes the
Core Directory audit row "Update application \N{EN DASH} Certificates and secrets management" (the
activity name really carries an en dash).
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.clock import parse_time
from ....core.directory import Application, PasswordCredential
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.ids import is_guid, new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..common.directory import audit_target, bad_request, initiator, listing, single
from ..common.shapes import application_json, directory_object_json, password_credential_json
from .authz import authorize_credentials, find_application, read_caller

__all__ = ["record_credential_change"]

_FILTERABLE = {"appId", "displayName", "id", "publisherDomain", "signInAudience", "createdDateTime", "uniqueName"}
_ORDERABLE = {"displayName", "createdDateTime"}
_SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"


def _new_secret() -> str:
    """40 characters like Entra's generated secrets: a 3-character hint, a version marker, random rest."""
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return head + "8Q~" + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(34))


def _plus_two_years(start: datetime) -> datetime:
    try:
        return start.replace(year=start.year + 2)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 2, day=28)


def _key_description(p: PasswordCredential) -> str:
    return f"[KeyIdentifier={p.key_id},KeyType=Password,KeyUsage=Verify,DisplayName={p.display_name or ''}]"


def record_credential_change(
    w: World, caller: Caller, app: Application, *, old: list[str], new: list[str], prop: str = "KeyDescription"
) -> None:
    """The Core Directory audit row Entra writes for any secret or federated credential change."""
    w.audit.record(
        when=w.clock.now(),
        activity="Update application \N{EN DASH} Certificates and secrets management",
        category="ApplicationManagement",
        operation_type="Update",
        initiated_by=initiator(w, caller),
        targets=[
            audit_target(
                w,
                app.object_id,
                "Application",
                modified=[
                    {"displayName": prop, "oldValue": json.dumps(old), "newValue": json.dumps(new)},
                    {"displayName": "Included Updated Properties", "oldValue": None, "newValue": json.dumps(prop)},
                ],
            )
        ],
        service="Core Directory",
    )


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
        app = find_application(request)
        authorize_credentials(w, caller, app)
        start = start_wanted or w.clock.now()
        end = end_wanted or _plus_two_years(start)
        if end <= start:
            raise bad_request("Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.")
        old = [_key_description(p) for p in app.passwords]
        secret = _new_secret()
        credential = PasswordCredential.create(new_guid(), secret, display_name, start, end)
        app.passwords.append(credential)
        record_credential_change(w, caller, app, old=old, new=[_key_description(p) for p in app.passwords])
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
        app = find_application(request)
        authorize_credentials(w, caller, app)
        remaining = [p for p in app.passwords if p.key_id.lower() != key_id.lower()]
        if len(remaining) == len(app.passwords):
            raise GraphError(404, "Request_ResourceNotFound", f"No password credential found with keyId '{key_id}'.")
        old = [_key_description(p) for p in app.passwords]
        app.passwords = remaining
        record_credential_change(w, caller, app, old=old, new=[_key_description(p) for p in remaining])
    return no_content()
