"""The Key Vault secrets errors, with the codes, inner codes and message texts the real service returns.

Sources (recorded in docs/reference/emulator-keyvault.md): the 7.5 secrets spec for the envelope, and service
responses quoted in public issue threads for the messages. Wording marked "unverified" there is the emulator's own.
"""

from __future__ import annotations

from ....core.errors import KeyVaultError

__all__ = [
    "SUPPORTED_API_VERSIONS",
    "bad_parameter",
    "deleted_but_recoverable",
    "deleted_secret_not_found",
    "forbidden_by_rbac",
    "invalid_name",
    "purge_protected",
    "secret_disabled",
    "secret_exists",
    "secret_not_found",
    "unsupported_api_version",
    "vault_not_found",
]

# Every generally available data-plane version azure-keyvault-secrets knows (its ApiVersion enum); previews are
# refused as the service refuses versions it does not recognise.
SUPPORTED_API_VERSIONS = ("2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01")
_LATEST_API_VERSION = SUPPORTED_API_VERSIONS[-1]


def bad_parameter(message: str) -> KeyVaultError:
    return KeyVaultError(400, "BadParameter", message)


def unsupported_api_version(given: str | None) -> KeyVaultError:
    if not given:
        return bad_parameter("The 'api-version' query parameter is required.")
    return bad_parameter(
        f"The specified version ({given}) is not recognized. Consider using the latest supported version "
        f"({_LATEST_API_VERSION})."
    )


def invalid_name(name: str) -> KeyVaultError:
    return bad_parameter(f"The request URI contains an invalid name: {name}")


def vault_not_found(name: str) -> KeyVaultError:
    # A vault port whose vault is not in the loaded scenario: the real service would not resolve the host at all.
    return KeyVaultError(404, "VaultNotFound", f"The vault '{name}' does not exist in the loaded scenario.")


def secret_not_found(name_or_id: str) -> KeyVaultError:
    return KeyVaultError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {name_or_id} was not found in this key vault. If you recently deleted this secret "
        "you may be able to recover it using the correct recovery command. For help resolving this issue, please "
        "see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


def deleted_secret_not_found(name: str) -> KeyVaultError:
    return KeyVaultError(404, "SecretNotFound", f"Deleted Secret not found: {name}")


def secret_disabled() -> KeyVaultError:
    return KeyVaultError(
        403, "Forbidden", "Operation get is not allowed on a disabled secret.", inner_code="SecretDisabled"
    )


def deleted_but_recoverable(name: str) -> KeyVaultError:
    return KeyVaultError(
        409,
        "Conflict",
        f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this "
        "state, the secret can only be recovered or purged.",
        inner_code="ObjectIsDeletedButRecoverable",
    )


def secret_exists(name: str) -> KeyVaultError:
    return KeyVaultError(409, "Conflict", f"Secret {name} already exists; restore cannot overwrite an existing secret.")


def purge_protected(name: str) -> KeyVaultError:
    return KeyVaultError(
        403,
        "Forbidden",
        f'Operation "purge" is not allowed on secret {name} because purge protection is enabled for this vault. '
        "Key Vault service will automatically purge it after the retention period has passed.",
        inner_code="OperationNotAllowed",
    )


def forbidden_by_rbac(
    *, app_id: str | None, object_id: str, issuer: str, action: str, resource: str, vault: str, location: str
) -> KeyVaultError:
    # The real message: CRLF-separated lines, the resource path lower-cased, a trailing space after the reason.
    lines = [
        "Caller is not authorized to perform action on resource.",
        "If role assignments, deny assignments or role definitions were changed recently, please observe "
        "propagation time.",
        f"Caller: appid={app_id or ''};oid={object_id};iss={issuer}",
        f"Action: '{action}'",
        f"Resource: '{resource.lower()}'",
        "Assignment: (not found)",
        "DenyAssignmentId: null",
        "DecisionReason: 'DeniedWithNoValidRBAC' ",
        f"Vault: {vault};location={location}",
        "",
    ]
    return KeyVaultError(403, "Forbidden", "\r\n".join(lines), inner_code="ForbiddenByRbac")
