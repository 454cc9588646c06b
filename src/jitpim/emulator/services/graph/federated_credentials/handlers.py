"""Federated identity credentials of an application (workload identity federation).

`/applications/{id}/federatedIdentityCredentials` (and the `(appId='...')` form): list, create (201), get,
update (204) and delete (204) by id or by name, plus the `(name='...')` alternate key whose PATCH is an
upsert (201 created, 204 updated). Rules enforced as Entra does: at most 20 per application, issuer +
subject unique within the application, names unique and immutable, exactly one audience. The token
issuer matches assertions against these objects live, so a change applies to the next token exchange.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.directory import Application, FederatedCredential
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ..applications.authz import authorize_credentials
from ..applications.context import find_application, read_caller
from ..common.directory import listing
from ..common.errors import bad_request
from ..common.odata import entity
from ..common.shapes import federated_credential_json
from . import backend
from .parse import check_body

__all__ = ["create_credential", "delete_credential", "get_credential", "list_credentials", "update_credential"]


def _context(app: Application) -> str:
    return f"applications('{app.object_id}')/federatedIdentityCredentials"


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
    fields = check_body(body, creating=True)
    with w.lock:
        app = find_application(request)
        created = backend.create(w, caller, app, fields)
        return _created_response(request, app, created)


def _key(request: Request) -> str:
    return str(request.path_params.get("fic_key") or request.path_params.get("fic_name") or "")


async def get_credential(request: Request) -> Response:
    w = world(request)
    read_caller(request)
    with w.lock:
        app = find_application(request)
        found = backend.find(app, _key(request))
        if found is None:
            raise backend.missing(_key(request))
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
        found = backend.find(app, key)
        if found is None:
            if not upsert:
                raise backend.missing(key)
            fields = check_body({**body, "name": body.get("name", key)}, creating=True)
            if fields["name"] != key:
                raise bad_request("Property 'name' must match the name in the request URL.")
            return _created_response(request, app, backend.create(w, caller, app, fields))
        backend.update(w, caller, app, found, check_body(body, creating=False))
    return no_content()


async def delete_credential(request: Request) -> Response:
    w = world(request)
    caller = read_caller(request)
    key = _key(request)
    with w.lock:
        backend.delete(w, caller, find_application(request), key)
    return no_content()
