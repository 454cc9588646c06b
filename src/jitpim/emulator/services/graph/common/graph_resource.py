"""Microsoft Graph as a resource application: its well-known app id, the service principal every tenant
has for it, and the application permissions (app roles) it publishes.

Ids: the ones confirmed in the Graph permissions reference are Graph's real app-role ids; the other
permissions this emulator knows get a stable id derived from their name (clients look ids up by `value` on
Graph's service principal, as `az ad sp show --id 00000003-... --query appRoles` does, so they work either way).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

__all__ = ["GRAPH_APP_ID", "GRAPH_SP_NAME", "MICROSOFT_TENANT", "app_role_id", "app_role_name", "app_roles_json"]

GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"
GRAPH_SP_NAME: Final = "Microsoft Graph"
MICROSOFT_TENANT: Final = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

_KNOWN: Final = {
    "RoleAssignmentSchedule.ReadWrite.Directory": "dd199f4a-f148-40a4-a2ec-f0069cc799ec",
    "RoleAssignmentSchedule.Read.Directory": "d5fe8ce8-684c-4c83-a52c-46e882ce4be1",
    "RoleEligibilitySchedule.Read.Directory": "ff278e11-4a33-4d0c-83d2-d01dc58929a5",
    "RoleEligibilitySchedule.ReadWrite.Directory": "fee28b28-e1f3-4841-818e-2704dc62245f",
    "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "RoleManagementPolicy.Read.Directory": "fdc4c997-9942-4479-bfcb-75a36d1138df",
    "RoleManagementPolicy.ReadWrite.Directory": "31e08e0a-d3f7-4ca2-ac39-7343fb83e8ad",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup": "41202f2c-f7ab-45be-b001-85c9728b9d69",
    "PrivilegedEligibilitySchedule.Read.AzureADGroup": "edb419d6-7edc-42a3-9345-509bfdf5d87c",
}
_OTHERS: Final = (
    "PrivilegedAssignmentSchedule.Read.AzureADGroup",
    "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    "RoleManagementPolicy.Read.AzureADGroup",
    "RoleManagementPolicy.ReadWrite.AzureADGroup",
    "RoleManagement.Read.All",
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "AppRoleAssignment.ReadWrite.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "User.Read.All",
    "PrivilegedAccess.ReadWrite.AzureAD",
)
_ROLES: Final = {**_KNOWN, **{n: str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-app-role:{n}")) for n in _OTHERS}}
_BY_ID: Final = {v: k for k, v in _ROLES.items()}


def app_role_id(name: str) -> str | None:
    return _ROLES.get(name)


def app_role_name(role_id: str) -> str | None:
    return _BY_ID.get(role_id.lower())


def app_roles_json() -> list[dict[str, Any]]:
    return [
        {
            "allowedMemberTypes": ["Application"],
            "description": f"Allows the app to use {name} without a signed-in user.",
            "displayName": name,
            "id": role_id,
            "isEnabled": True,
            "origin": "Application",
            "value": name,
        }
        for name, role_id in sorted(_ROLES.items())
    ]
