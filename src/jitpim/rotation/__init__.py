"""Secret rotation under just-in-time elevation: Key Vault secrets and app-registration credentials.

The modules here rotate while access is held; they do not obtain it (the CLI wraps them in the lifecycle's
`Elevation`). `values` makes or reads the new value, `validation` hands it to the user's check,
`keyvault` talks to the vault's data plane, `vaults` finds a vault through ARM, `secret` rotates a Key Vault
secret and `app_credential` an app registration's client secret.
"""

from __future__ import annotations

from .app_credential import (
    KEY_ID_TAG,
    AppCredentialOutcome,
    AppCredentialRequest,
    AppCredentialRotator,
    AppRef,
    TokenCheck,
    client_secret_token_check,
    resolve_app,
)
from .keyvault import KEYVAULT_API_VERSION, SecretVersion, VaultSecrets, check_secret_name, parse_secret_id
from .secret import ROTATION_TAG, RotationOutcome, SecretRotationRequest, SecretRotator
from .validation import FD_VARIABLE, FILE_VARIABLE, ValidationResult, ValidationSpec, run_validation
from .values import SecretValue, ValueSource, from_file, from_generator, from_stream, generate, resolve_alphabet
from .vaults import VaultRef, resolve_vault

__all__ = [
    "FD_VARIABLE",
    "FILE_VARIABLE",
    "KEYVAULT_API_VERSION",
    "KEY_ID_TAG",
    "ROTATION_TAG",
    "AppCredentialOutcome",
    "AppCredentialRequest",
    "AppCredentialRotator",
    "AppRef",
    "RotationOutcome",
    "SecretRotationRequest",
    "SecretRotator",
    "SecretValue",
    "SecretVersion",
    "TokenCheck",
    "ValidationResult",
    "ValidationSpec",
    "ValueSource",
    "VaultRef",
    "VaultSecrets",
    "check_secret_name",
    "client_secret_token_check",
    "from_file",
    "from_generator",
    "from_stream",
    "generate",
    "parse_secret_id",
    "resolve_alphabet",
    "resolve_app",
    "resolve_vault",
    "run_validation",
]
