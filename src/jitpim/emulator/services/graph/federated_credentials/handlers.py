"""Federated identity credentials of an application (workload identity federation).

`/applications/{id}/federatedIdentityCredentials` (and the `(appId='...')` form): list, create (201), get,
update (204) and delete (204) by id or by name, plus the `(name='...')` alternate key whose PATCH is an
upsert (201 created, 204 updated). Rules enforced as Entra does: at most 20 per application, issuer +
subject unique within the application, names unique and immutable, exactly one audience. The token
issuer matches assertions against these objects live, so a change applies to the next token exchange.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.directory import Application, FederatedCredential
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.ids import new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..applications.authz import authorize_credentials
from ..applications.backend import record_credential_change
from ..applications.context import find_application, read_caller
from ..common.directory import listing
from ..common.errors import bad_request
from ..common.odata import entity
from ..common.shapes import federated_credential_json

__all__ = ["create_credential", "delete_credential", "get_credential", "list_credentials", "update_credential"]

MAX_PER_APPLICATION = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
_PROPERTIES = {"name", "issuer", "subject", "audiences", "description"}
_TYPE = "microsoft.graph.federatedIdentityCredential"


def _context(app: Application) -> str:
    return f"applications('{app.object_id}')/federatedIdentityCredentials"


def _describe(app: Application) -> list[str]:
    return [f"[Name={f.name},Issuer={f.issuer},Subject={f.subject}]" for f in app.federated_credentials]


def _check(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
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


def _find(app: Application, key: str) -> FederatedCredential | None:
    lowered = key.lower()
    return next((f for f in app.federated_credentials if f.id.lower() == lowered or f.name.lower() == lowered), None)


def _missing(key: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound", f"FederatedIdentityCredential with name {key} not found.")


def _ensure_unique(app: Application, issuer: str, subject: str, name: str, itself: FederatedCredential | None) -> None:
    for other in app.federated_credentials:
        if other is itself:
            continue
        if other.name.lower() == name.lower():
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                f"FederatedIdentityCredential with name {name} already exists.",
            )
        if other.issuer == issuer and other.subject == subject:
            raise GraphError(
                400,
                "InvalidFederatedIdentityCredentialValue",
                f"The combination of issuer and subject must be unique for the application. Issuer {issuer} and "
                f"Subject: {subject} already exist. paramName: FederatedIdentityCredential.Subject, paramValue: "
                f"{subject}, objectType: Microsoft.Online.DirectoryServices.Application",
            )


def _create(w: World, caller: Caller, app: Application, fields: dict[str, Any]) -> FederatedCredential:
    if len(app.federated_credentials) >= MAX_PER_APPLICATION:
        raise bad_request(
            f"The application already has the maximum of {MAX_PER_APPLICATION} federated identity credentials."
        )
    _ensure_unique(app, fields["issuer"], fields["subject"], fields["name"], None)
    old = _describe(app)
    created = FederatedCredential(
        id=new_guid(),
        name=fields["name"],
        issuer=fields["issuer"],
        subject=fields["subject"],
        audiences=fields["audiences"],
        description=fields.get("description"),
    )
    app.federated_credentials.append(created)
    record_credential_change(w, caller, app, old=old, new=_describe(app), prop="FederatedIdentityCredentials")
    return created


def _update(w: World, caller: Caller, app: Application, current: FederatedCredential, fields: dict[str, Any]) -> None:
    if "name" in fields and fields["name"] != current.name:
        raise bad_request("Property 'name' is immutable and cannot be changed after creation.")
    issuer = fields.get("issuer", current.issuer)
    subject = fields.get("subject", current.subject)
    _ensure_unique(app, issuer, subject, current.name, current)
    old = _describe(app)
    current.issuer = issuer
    current.subject = subject
    current.audiences = fields.get("audiences", current.audiences)
    if "description" in fields:
        current.description = fields["description"]
    record_credential_change(w, caller, app, old=old, new=_describe(app), prop="FederatedIdentityCredentials")


def _created_response(request: Request, app: Application, fic: FederatedCredential) -> Response:
    return json_response(entity(request, federated_credential_json(fic), _context(app)), status=201)


async def list_credentials(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        app = find_application(request)
        rows = [federated_credential_json(f) for f in app.federated_credentials]
        context = _context(app)
    return json_response(
        listing(
            request,
            rows,
            context,
            resource="FederatedIdentityCredential",
            type_name="Microsoft.DirectoryServices.FederatedIdentityCredential",
            fields={"name", "subject", "issuer", "id"},
            default_fields=None,
        )
    )


async def create_credential(request: Request) -> Response:
    w = world(request)
    caller = read_caller(request)
    body = await json_body(request, GraphError, code="BadRequest")
    fields = _check(body, creating=True)
    with w.lock:
        app = find_application(request)
        authorize_credentials(w, caller, app)
        created = _create(w, caller, app, fields)
        return _created_response(request, app, created)


def _key(request: Request) -> str:
    return str(request.path_params.get("fic_key") or request.path_params.get("fic_name") or "")


async def get_credential(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        app = find_application(request)
        found = _find(app, _key(request))
        if found is None:
            raise _missing(_key(request))
        return json_response(entity(request, federated_credential_json(found), _context(app)))


async def update_credential(request: Request) -> Response:
    """PATCH by id or name updates (204); PATCH on `(name='...')` also creates when absent (201)."""
    w = world(request)
    caller = read_caller(request)
    body = await json_body(request, GraphError, code="BadRequest")
    key = _key(request)
    upsert = "fic_name" in request.path_params
    with w.lock:
        app = find_application(request)
        authorize_credentials(w, caller, app)
        found = _find(app, key)
        if found is None:
            if not upsert:
                raise _missing(key)
            fields = _check({**body, "name": body.get("name", key)}, creating=True)
            if fields["name"] != key:
                raise bad_request("Property 'name' must match the name in the request URL.")
            return _created_response(request, app, _create(w, caller, app, fields))
        _update(w, caller, app, found, _check(body, creating=False))
    return no_content()


async def delete_credential(request: Request) -> Response:
    w = world(request)
    caller = read_caller(request)
    key = _key(request)
    with w.lock:
        app = find_application(request)
        authorize_credentials(w, caller, app)
        found = _find(app, key)
        if found is None:
            raise _missing(key)
        old = _describe(app)
        app.federated_credentials.remove(found)
        record_credential_change(w, caller, app, old=old, new=_describe(app), prop="FederatedIdentityCredentials")
    return no_content()
