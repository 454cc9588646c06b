"""An application's federated identity credentials: create (at most 20, unique by name and by issuer and
subject), update (the name is immutable) and delete, each authorized and audited as Entra audits credential
changes."""

from __future__ import annotations

from typing import Any

from ....core.directory import Application, FederatedCredential
from ....core.errors import GraphError
from ....core.ids import new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..applications.authz import authorize_credentials
from ..applications.backend import record_credential_change
from ..common.errors import bad_request

__all__ = ["MAX_PER_APPLICATION", "create", "delete", "find", "missing", "update"]

MAX_PER_APPLICATION = 20


def _describe(app: Application) -> list[str]:
    return [f"[Name={f.name},Issuer={f.issuer},Subject={f.subject}]" for f in app.federated_credentials]


def find(app: Application, key: str) -> FederatedCredential | None:
    lowered = key.lower()
    return next((f for f in app.federated_credentials if f.id.lower() == lowered or f.name.lower() == lowered), None)


def missing(key: str) -> GraphError:
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


def create(w: World, caller: Caller, app: Application, fields: dict[str, Any]) -> FederatedCredential:
    authorize_credentials(w, caller, app)
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


def update(w: World, caller: Caller, app: Application, current: FederatedCredential, fields: dict[str, Any]) -> None:
    authorize_credentials(w, caller, app)
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


def delete(w: World, caller: Caller, app: Application, key: str) -> None:
    authorize_credentials(w, caller, app)
    found = find(app, key)
    if found is None:
        raise missing(key)
    old = _describe(app)
    app.federated_credentials.remove(found)
    record_credential_change(w, caller, app, old=old, new=_describe(app), prop="FederatedIdentityCredentials")
