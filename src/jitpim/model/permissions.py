"""The exact rights jitpim needs, per mode and target kind: one table that `jitpim doctor` enforces and
`docs/reference/permissions.md` is generated from (`make docs-write`), so the two cannot disagree.

Graph permissions are application permissions (app roles, for a CI identity or the broker's managed identity)
or delegated scopes (for a person in self mode). ARM rights are actions at the target's scope. Sources:
Microsoft Graph permissions reference and the PIM API pages (shared/reference/graph-pim.md §6), the ARM
Authorization operations (shared/reference/arm-pim-rbac-keyvault-oidc.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DANGEROUS_GRAPH",
    "GRAPH_APP_ID",
    "GRAPH_PERMISSION_IDS",
    "LICENSING",
    "MODES",
    "Need",
    "needs",
]

Mode = Literal["direct", "broker", "self"]
Kind = Literal["entra-role", "pim-group", "azure-role", "rbac"]
MODES: Final[tuple[Mode, ...]] = ("direct", "broker", "self")
KINDS: Final[tuple[Kind, ...]] = ("entra-role", "pim-group", "azure-role", "rbac")

# Microsoft Graph's own application id (the `--api` of `az ad app permission add`).
GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"
# App-role ids confirmed in the Graph permissions reference (shared/reference/graph-pim.md); the fix commands
# look any other id up by name (`az ad sp show --id GRAPH_APP_ID --query "appRoles[?value=='NAME'].id"`).
GRAPH_PERMISSION_IDS: Final = {
    "RoleAssignmentSchedule.ReadWrite.Directory": "dd199f4a-f148-40a4-a2ec-f0069cc799ec",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "RoleManagementPolicy.Read.Directory": "fdc4c997-9942-4479-bfcb-75a36d1138df",
    "RoleManagementPolicy.ReadWrite.Directory": "31e08e0a-d3f7-4ca2-ac39-7343fb83e8ad",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup": "41202f2c-f7ab-45be-b001-85c9728b9d69",
    "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
}

# Graph permissions that let an identity grant itself (or anyone) anything: never needed by a CI identity.
DANGEROUS_GRAPH: Final = frozenset(
    {
        "RoleManagement.ReadWrite.Directory",
        "Directory.ReadWrite.All",
        "AppRoleAssignment.ReadWrite.All",
        "Application.ReadWrite.All",
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
        "RoleManagementPolicy.ReadWrite.Directory",
        "RoleManagementPolicy.ReadWrite.AzureADGroup",
        "Group.ReadWrite.All",
        "GroupMember.ReadWrite.All",
    }
)

LICENSING: Final = (
    "PIM (entra-role, pim-group, azure-role) needs Microsoft Entra ID P2 or Microsoft Entra ID Governance for "
    "the users and identities that receive or approve privileged access; plain RBAC assignments (rbac) need no "
    "extra licence."
)


@dataclass(frozen=True)
class Need:
    """One right: in `api` (graph or arm), the `name` (a Graph permission or an ARM action), `why` it is needed,
    and `kind` of grant: an application permission (`app`), a delegated scope (`delegated`) or an ARM action
    at the target's scope (`action`). `condition` names the ABAC condition an ARM right must carry."""

    api: Literal["graph", "arm"]
    kind: Literal["app", "delegated", "action"]
    name: str
    why: str
    condition: str | None = None


_PIM_ARM_READS: Final = (
    "Microsoft.Authorization/roleAssignmentSchedules/read",
    "Microsoft.Authorization/roleAssignmentScheduleInstances/read",
    "Microsoft.Authorization/roleManagementPolicies/read",
    "Microsoft.Authorization/roleManagementPolicyAssignments/read",
    "Microsoft.Authorization/roleDefinitions/read",
)

_GRANTER: Final[dict[Kind, tuple[Need, ...]]] = {
    "entra-role": (
        Need(
            "graph",
            "app",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "adminAssign/adminRemove time-bound active assignments",
        ),
        Need("graph", "app", "RoleManagementPolicy.Read.Directory", "read the role's PIM policy before asking"),
        Need("graph", "app", "RoleManagement.Read.Directory", "resolve role names and read schedules"),
    ),
    "pim-group": (
        Need(
            "graph",
            "app",
            "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
            "adminAssign/adminRemove time-bound membership or ownership",
        ),
        Need("graph", "app", "RoleManagementPolicy.Read.AzureADGroup", "read the group's PIM policy before asking"),
        Need("graph", "app", "Group.Read.All", "resolve group names"),
    ),
    "azure-role": (
        Need(
            "arm",
            "action",
            "Microsoft.Authorization/roleAssignmentScheduleRequests/write",
            "AdminAssign/AdminRemove time-bound assignments",
        ),
        Need(
            "arm",
            "action",
            "Microsoft.Authorization/roleAssignmentScheduleRequests/read",
            "look a request up after a lost response",
        ),
        Need(
            "arm",
            "action",
            "Microsoft.Authorization/roleAssignmentScheduleRequests/cancel/action",
            "cancel a request that is still pending",
        ),
        *(Need("arm", "action", a, "read PIM state and the policy before asking") for a in _PIM_ARM_READS),
    ),
    "rbac": (
        Need(
            "arm",
            "action",
            "Microsoft.Authorization/roleAssignments/write",
            "create the time-bound role assignment",
            condition="limited to the target role(s) and the identity's own principal id",
        ),
        Need(
            "arm",
            "action",
            "Microsoft.Authorization/roleAssignments/delete",
            "delete it at release",
            condition="limited to the target role(s) and the identity's own principal id",
        ),
        Need("arm", "action", "Microsoft.Authorization/roleAssignments/read", "find an existing grant, verify release"),
        Need("arm", "action", "Microsoft.Authorization/roleDefinitions/read", "resolve role names"),
    ),
}

_SELF: Final[dict[Kind, tuple[Need, ...]]] = {
    "entra-role": (
        Need("graph", "delegated", "RoleAssignmentSchedule.ReadWrite.Directory", "selfActivate/selfDeactivate"),
        Need("graph", "delegated", "RoleEligibilitySchedule.Read.Directory", "list the person's eligibilities"),
        Need("graph", "delegated", "RoleManagementPolicy.Read.Directory", "read the role's PIM policy"),
    ),
    "pim-group": (
        Need("graph", "delegated", "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup", "selfActivate group access"),
        Need(
            "graph", "delegated", "PrivilegedEligibilitySchedule.Read.AzureADGroup", "list the person's eligibilities"
        ),
        Need("graph", "delegated", "RoleManagementPolicy.Read.AzureADGroup", "read the group's PIM policy"),
    ),
    # A person eligible for an Azure role may SelfActivate it with no further ARM right: the eligibility is the right.
    "azure-role": (),
    "rbac": (),
}


def needs(mode: Mode, kind: Kind, *, who: Literal["caller", "broker"] = "caller") -> tuple[Need, ...]:
    """What `who` needs for `kind` in `mode`. In broker mode the caller (the CI job) needs nothing in Azure:
    the broker's own identity (`who="broker"`) holds the granting rights."""
    if mode == "self":
        return _SELF[kind] if who == "caller" else ()
    if mode == "broker":
        return _GRANTER[kind] if who == "broker" else ()
    return _GRANTER[kind] if who == "caller" else ()
