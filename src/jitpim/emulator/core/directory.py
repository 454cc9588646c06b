"""The tenant's directory: users, applications, service principals, groups, directory roles.

Directory role assignments and group memberships live here (not in the Graph service) because every
service needs them: Graph to authorize calls, the token issuer for `wids`, ARM and Key Vault to expand a
principal into the groups that hold its roles.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Literal

from .ids import assignment_instance_id

__all__ = [
    "Application",
    "Directory",
    "DirectoryRoleAssignment",
    "DirectoryRoleDefinition",
    "FederatedCredential",
    "Group",
    "Membership",
    "PasswordCredential",
    "ServicePrincipal",
    "User",
]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class PasswordCredential:
    key_id: str
    display_name: str | None
    hint: str
    start: datetime
    end: datetime
    secret_sha256: str = field(repr=False)

    @classmethod
    def create(
        cls, key_id: str, secret: str, display_name: str | None, start: datetime, end: datetime
    ) -> PasswordCredential:
        return cls(key_id, display_name, secret[:3], start, end, _hash(secret))

    def matches(self, secret: str, now: datetime) -> bool:
        return hmac.compare_digest(self.secret_sha256, _hash(secret)) and self.start <= now < self.end


@dataclass
class FederatedCredential:
    id: str
    name: str
    issuer: str
    subject: str
    audiences: list[str]
    description: str | None = None


@dataclass
class Application:
    object_id: str
    app_id: str
    display_name: str
    service_principal_id: str
    graph_app_roles: set[str] = field(default_factory=set)
    passwords: list[PasswordCredential] = field(default_factory=list)
    federated_credentials: list[FederatedCredential] = field(default_factory=list)
    owners: set[str] = field(default_factory=set)
    created: datetime | None = None
    # `isFallbackPublicClient`: the app may use the password and refresh grants without its own credential.
    public_client: bool = False


@dataclass
class ServicePrincipal:
    object_id: str
    app_id: str
    display_name: str
    service_principal_type: str = "Application"
    created: datetime | None = None


@dataclass
class User:
    object_id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    password_sha256: str = field(repr=False)
    # Delegated permissions consented for this user's sign-ins (the `scp` claim).
    scopes: set[str] = field(default_factory=set)
    # Whether an interactive sign-in of this user satisfies MFA (the `amr` claim carries "mfa").
    mfa: bool = True
    created: datetime | None = None

    def password_matches(self, password: str) -> bool:
        return hmac.compare_digest(self.password_sha256, _hash(password))


@dataclass
class Membership:
    start: datetime
    end: datetime | None
    source: Literal["standing", "pim"] = "standing"
    schedule_id: str | None = None

    def active(self, now: datetime, propagation: timedelta = timedelta(0)) -> bool:
        return self.start + propagation <= now and (self.end is None or now < self.end)


@dataclass
class Group:
    object_id: str
    display_name: str
    description: str | None = None
    mail_nickname: str = ""
    security_enabled: bool = True
    is_assignable_to_role: bool = False
    members: dict[str, Membership] = field(default_factory=dict)
    owners: dict[str, Membership] = field(default_factory=dict)
    created: datetime | None = None


@dataclass
class DirectoryRoleDefinition:
    id: str
    display_name: str
    description: str
    allowed_resource_actions: list[str]
    is_built_in: bool = True

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "displayName": self.display_name,
            "isBuiltIn": self.is_built_in,
            "isEnabled": True,
            "resourceScopes": ["/"],
            "templateId": self.id,
            "version": "1",
            "rolePermissions": [{"allowedResourceActions": self.allowed_resource_actions, "condition": None}],
            "inheritsPermissionsFrom": [],
        }


@dataclass
class DirectoryRoleAssignment:
    """A directory role assignment as the directory holds it; PIM instances point at these."""

    principal_id: str
    role_definition_id: str
    directory_scope_id: str
    start: datetime
    end: datetime | None
    source: Literal["standing", "pim"] = "standing"
    schedule_id: str | None = None
    assignment_type: Literal["Assigned", "Activated"] = "Assigned"
    eligibility_schedule_id: str | None = None

    @property
    def id(self) -> str:
        suffix = "-1" if self.directory_scope_id == "/" else "-1" + self.directory_scope_id.replace("/", "-")
        return assignment_instance_id(self.role_definition_id, self.principal_id, suffix)

    def active(self, now: datetime, propagation: timedelta = timedelta(0)) -> bool:
        return self.start + propagation <= now and (self.end is None or now < self.end)


def load_directory_role_definitions() -> dict[str, DirectoryRoleDefinition]:
    raw = json.loads(resources.files("jitpim.emulator.data").joinpath("directory_roles.json").read_text())
    return {
        r["id"]: DirectoryRoleDefinition(r["id"], r["displayName"], r["description"], r["allowedResourceActions"])
        for r in raw
    }


class Directory:
    def __init__(self, tenant_id: str, domain: str) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.users: dict[str, User] = {}
        self.applications: dict[str, Application] = {}  # by object id
        self.service_principals: dict[str, ServicePrincipal] = {}  # by object id
        self.groups: dict[str, Group] = {}
        self.role_definitions = load_directory_role_definitions()
        self.role_assignments: list[DirectoryRoleAssignment] = []
        # Seconds before a new directory role assignment or group membership takes effect.
        self.propagation = timedelta(0)

    # lookups -----------------------------------------------------------------------------------
    def application_by_client_id(self, client_id: str) -> Application | None:
        return next((a for a in self.applications.values() if a.app_id == client_id), None)

    def application_of_service_principal(self, sp_id: str) -> Application | None:
        return next((a for a in self.applications.values() if a.service_principal_id == sp_id), None)

    def user_by_upn(self, upn: str) -> User | None:
        lowered = upn.lower()
        return next((u for u in self.users.values() if u.user_principal_name.lower() == lowered), None)

    def principal_kind(self, object_id: str) -> str | None:
        if object_id in self.users:
            return "User"
        if object_id in self.service_principals:
            return "ServicePrincipal"
        if object_id in self.groups:
            return "Group"
        return None

    def display_name(self, object_id: str) -> str | None:
        for table in (self.users, self.service_principals, self.groups):
            obj = table.get(object_id)
            if obj is not None:
                return str(obj.display_name)
        return None

    def role_definition(self, id_or_name: str) -> DirectoryRoleDefinition | None:
        found = self.role_definitions.get(id_or_name)
        if found:
            return found
        lowered = id_or_name.lower()
        return next((d for d in self.role_definitions.values() if d.display_name.lower() == lowered), None)

    # effective state ---------------------------------------------------------------------------
    def groups_of(self, object_id: str, now: datetime) -> set[str]:
        """Groups the principal is an effective member of now (standing, or PIM-activated and propagated)."""
        return {
            g.object_id
            for g in self.groups.values()
            if (m := g.members.get(object_id)) is not None and m.active(now, self.propagation)
        }

    def principal_and_groups(self, object_id: str, now: datetime) -> set[str]:
        return {object_id} | self.groups_of(object_id, now)

    def effective_role_ids(self, object_id: str, now: datetime, scope: str = "/") -> set[str]:
        """Directory roles that take effect for the principal now, directly or through a group."""
        ids = self.principal_and_groups(object_id, now)
        return {
            a.role_definition_id
            for a in self.role_assignments
            if a.principal_id in ids and a.directory_scope_id in ("/", scope) and a.active(now, self.propagation)
        }

    def allowed_resource_actions(self, object_id: str, now: datetime, scope: str = "/") -> set[str]:
        actions: set[str] = set()
        for role_id in self.effective_role_ids(object_id, now, scope):
            definition = self.role_definitions.get(role_id)
            if definition:
                actions.update(a.lower() for a in definition.allowed_resource_actions)
        return actions

    def can(self, object_id: str, action: str, now: datetime, scope: str = "/") -> bool:
        """Whether a directory role grants `action` (e.g. `microsoft.directory/applications/credentials/update`)."""
        allowed = self.allowed_resource_actions(object_id, now, scope)
        action = action.lower()
        if action in allowed:
            return True
        namespace = action.split("/")[0] + "/" + action.split("/")[1] if action.count("/") >= 1 else action
        return (
            f"{namespace}/allproperties/alltasks" in allowed
            or "microsoft.directory/*/allproperties/alltasks" in allowed
        )
