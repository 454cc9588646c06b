"""An application's password credentials: adding one (Entra generates the secret and returns it once) and
removing one, each authorized (`authorize_credentials`) and audited as Entra audits credential changes."""

from __future__ import annotations

import json
import secrets
import string
from datetime import datetime

from ....core.directory import Application, PasswordCredential
from ....core.errors import GraphError
from ....core.ids import new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import audit_target, initiator
from ..common.errors import bad_request, denied
from .authz import authorize_credentials

__all__ = ["add_password_credential", "create_application", "record_credential_change", "remove_password_credential"]

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


def add_password_credential(
    w: World,
    caller: Caller,
    app: Application,
    display_name: str | None,
    start_wanted: datetime | None,
    end_wanted: datetime | None,
) -> tuple[PasswordCredential, str]:
    """The new credential and its secret (valid two years unless the request says otherwise)."""
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
    return credential, secret


def remove_password_credential(w: World, caller: Caller, app: Application, key_id: str) -> None:
    authorize_credentials(w, caller, app)
    remaining = [p for p in app.passwords if p.key_id.lower() != key_id.lower()]
    if len(remaining) == len(app.passwords):
        raise GraphError(404, "Request_ResourceNotFound", f"No password credential found with keyId '{key_id}'.")
    old = [_key_description(p) for p in app.passwords]
    app.passwords = remaining
    record_credential_change(w, caller, app, old=old, new=[_key_description(p) for p in remaining])


_CREATE_ACTION = "microsoft.directory/applications/create"


def create_application(w: World, caller: Caller, display_name: str, audience: str) -> Application:
    """A new app registration (no service principal yet: `POST /servicePrincipals` makes one). An app that
    creates it with `Application.ReadWrite.OwnedBy` becomes its owner, as in Entra."""
    owned_by = caller.is_app and caller.has_permission("Application.ReadWrite.OwnedBy")
    if caller.is_app:
        allowed = caller.has_permission("Application.ReadWrite.All", "Directory.ReadWrite.All") or owned_by
    else:
        allowed = caller.has_permission("Application.ReadWrite.All", "Directory.AccessAsUser.All")
    if not allowed and not w.directory.can(caller.object_id, _CREATE_ACTION, w.clock.now()):
        raise denied()
    if not display_name.strip():
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Application'.")
    if audience not in ("AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount"):
        raise bad_request("Invalid value specified for property 'signInAudience' of resource 'Application'.")
    app = Application(
        object_id=new_guid(),
        app_id=new_guid(),
        display_name=display_name,
        service_principal_id="",
        created=w.clock.now(),
    )
    if not caller.is_app or owned_by:
        app.owners.add(caller.object_id)
    w.directory.applications[app.object_id] = app
    w.audit.record(
        when=w.clock.now(),
        activity="Add application",
        category="ApplicationManagement",
        operation_type="Add",
        initiated_by=initiator(w, caller),
        targets=[audit_target(w, app.object_id, "Application", modified=[])],
        service="Core Directory",
    )
    return app
