"""JSON shapes of Microsoft Graph directory objects (v1.0 property names and defaults).

Each function renders one core directory object the way Graph serialises it: unset properties are present
and `null` (or `[]` for collections), as Graph returns them. `@odata.type` is added where Graph adds it:
on items of polymorphic collections (`/members`, `/owners`, `/directoryObjects/getByIds`, `/memberOf`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ....core.clock import format_time
from ....core.directory import (
    Application,
    DirectoryRoleAssignment,
    DirectoryRoleDefinition,
    FederatedCredential,
    Group,
    PasswordCredential,
    ServicePrincipal,
    User,
)
from ....core.ids import stable_guid
from ....core.world import World
from .graph_resource import GRAPH_APP_ID, MICROSOFT_TENANT, app_roles_json

__all__ = [
    "DEFAULT_USER_FIELDS",
    "application_json",
    "directory_object_json",
    "directory_role_json",
    "federated_credential_json",
    "group_json",
    "organization_json",
    "password_credential_json",
    "role_assignment_json",
    "service_principal_json",
    "user_json",
]

# What `GET /users` returns without `$select` (v1.0); every other property needs `$select`.
DEFAULT_USER_FIELDS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def password_credential_json(p: PasswordCredential, secret_text: str | None = None) -> dict[str, Any]:
    """A passwordCredential; `secretText` is only ever filled in the addPassword response."""
    return {
        "customKeyIdentifier": None,
        "displayName": p.display_name,
        "endDateTime": format_time(p.end),
        "hint": p.hint,
        "keyId": p.key_id,
        "secretText": secret_text,
        "startDateTime": format_time(p.start),
    }


def federated_credential_json(f: FederatedCredential) -> dict[str, Any]:
    return {
        "audiences": list(f.audiences),
        "description": f.description,
        "id": f.id,
        "issuer": f.issuer,
        "name": f.name,
        "subject": f.subject,
    }


def application_json(app: Application, world: World) -> dict[str, Any]:
    return {
        "id": app.object_id,
        "deletedDateTime": None,
        "appId": app.app_id,
        "applicationTemplateId": None,
        "disabledByMicrosoftStatus": None,
        "createdDateTime": format_time(app.created),
        "displayName": app.display_name,
        "description": None,
        "groupMembershipClaims": None,
        "identifierUris": [],
        "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": True if app.public_client else None,
        "nativeAuthenticationApisEnabled": None,
        "notes": None,
        "publisherDomain": world.directory.domain,
        "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": None,
        "uniqueName": None,
        "defaultRedirectUri": None,
        "certification": None,
        "optionalClaims": None,
        "requestSignatureVerification": None,
        "addIns": [],
        "api": {
            "acceptMappedClaims": None,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": None,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
        },
        "appRoles": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [password_credential_json(p) for p in app.passwords],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {
            "homePageUrl": None,
            "logoutUrl": None,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
            "redirectUriSettings": [],
        },
        "servicePrincipalLockConfiguration": {
            "isEnabled": True,
            "allProperties": True,
            "credentialsWithUsageVerify": True,
            "credentialsWithUsageSign": True,
            "identifierUris": False,
            "tokenEncryptionKeyId": True,
        },
        "spa": {"redirectUris": []},
    }


def service_principal_json(sp: ServicePrincipal, world: World) -> dict[str, Any]:
    return {
        "id": sp.object_id,
        "deletedDateTime": None,
        "accountEnabled": True,
        "alternativeNames": [],
        "appDisplayName": sp.display_name,
        "appDescription": None,
        "appId": sp.app_id,
        "applicationTemplateId": None,
        "appOwnerOrganizationId": MICROSOFT_TENANT if sp.app_id == GRAPH_APP_ID else world.tenant_id,
        "appRoleAssignmentRequired": False,
        "appRoles": app_roles_json() if sp.app_id == GRAPH_APP_ID else [],
        "createdDateTime": format_time(sp.created),
        "description": None,
        "disabledByMicrosoftStatus": None,
        "displayName": sp.display_name,
        "homepage": None,
        "loginUrl": None,
        "logoutUrl": None,
        "notes": None,
        "notificationEmailAddresses": [],
        "preferredSingleSignOnMode": None,
        "preferredTokenSigningKeyThumbprint": None,
        "replyUrls": [],
        "servicePrincipalNames": [sp.app_id],
        "servicePrincipalType": sp.service_principal_type,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": None,
        "samlSingleSignOnSettings": None,
        "addIns": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "resourceSpecificApplicationPermissions": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
    }


def user_json(user: User) -> dict[str, Any]:
    """Every property the emulator knows; lists project to DEFAULT_USER_FIELDS unless `$select` asks."""
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": None,
        "jobTitle": None,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "userPrincipalName": user.user_principal_name,
        "id": user.object_id,
        "accountEnabled": True,
        "createdDateTime": format_time(user.created),
        "userType": "Member",
        "mailNickname": user.user_principal_name.split("@", 1)[0],
        "onPremisesSyncEnabled": None,
        "usageLocation": None,
    }


def group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.object_id,
        "deletedDateTime": None,
        "classification": None,
        "createdDateTime": format_time(group.created),
        "creationOptions": [],
        "description": group.description,
        "displayName": group.display_name,
        "expirationDateTime": None,
        "groupTypes": [],
        "isAssignableToRole": group.is_assignable_to_role,
        "mail": None,
        "mailEnabled": False,
        "mailNickname": group.mail_nickname,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "onPremisesDomainName": None,
        "onPremisesLastSyncDateTime": None,
        "onPremisesNetBiosName": None,
        "onPremisesSamAccountName": None,
        "onPremisesSecurityIdentifier": None,
        "onPremisesSyncEnabled": None,
        "preferredDataLocation": None,
        "preferredLanguage": None,
        "proxyAddresses": [],
        "renewedDateTime": format_time(group.created),
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": [],
        "securityEnabled": group.security_enabled,
        "securityIdentifier": None,
        "theme": None,
        "uniqueName": None,
        "visibility": None,
        "onPremisesProvisioningErrors": [],
        "serviceProvisioningErrors": [],
    }


def directory_object_json(world: World, object_id: str) -> dict[str, Any] | None:
    """Any directory object by id, with its `@odata.type` (users, groups, service principals, apps)."""
    d = world.directory
    if object_id in d.users:
        return {"@odata.type": "#microsoft.graph.user", **user_json(d.users[object_id])}
    if object_id in d.groups:
        return {"@odata.type": "#microsoft.graph.group", **group_json(d.groups[object_id])}
    if object_id in d.service_principals:
        sp = d.service_principals[object_id]
        return {"@odata.type": "#microsoft.graph.servicePrincipal", **service_principal_json(sp, world)}
    if object_id in d.applications:
        return {"@odata.type": "#microsoft.graph.application", **application_json(d.applications[object_id], world)}
    return None


def directory_role_json(world: World, definition: DirectoryRoleDefinition) -> dict[str, Any]:
    """An activated directoryRole object (the legacy API) as `memberOf` lists it; its object id is stable."""
    return {
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": stable_guid(world.tenant_id, "directoryRole", definition.id),
        "deletedDateTime": None,
        "description": definition.description,
        "displayName": definition.display_name,
        "roleTemplateId": definition.id,
    }


def role_assignment_json(a: DirectoryRoleAssignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "principalId": a.principal_id,
        "directoryScopeId": a.directory_scope_id,
        "roleDefinitionId": a.role_definition_id,
        "appScopeId": None,
        "condition": None,
    }


def organization_json(world: World, created: datetime | None) -> dict[str, Any]:
    domain = world.directory.domain
    return {
        "id": world.tenant_id,
        "deletedDateTime": None,
        "businessPhones": [],
        "city": None,
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": format_time(created),
        "defaultUsageLocation": None,
        "displayName": world.tenant_display_name,
        "isMultipleDataLocationsForServicesEnabled": None,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "partnerTenantType": None,
        "postalCode": None,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": None,
        "street": None,
        "technicalNotificationMails": [],
        "tenantType": "AAD",
        "directorySizeQuota": {"used": len(world.directory.users) + len(world.directory.groups), "total": 50000},
        "assignedPlans": [],
        "privacyProfile": None,
        "provisionedPlans": [],
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": True,
                "isInitial": True,
                "name": domain,
                "type": "Managed",
            }
        ],
    }
