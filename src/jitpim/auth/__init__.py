"""Credentials: which identity jitpim acts as (GitHub Actions OIDC, workload identity, client secret, a
person), who that is (`whoami`), and per-tenant authorities. azure-identity is imported only when a
credential is actually built."""

from __future__ import annotations

from .credentials import AZURE_CLI_CLIENT_ID, CredentialChoice, GuardedCredential, credential_for
from .github_oidc import GitHubOidcTokenSource
from .identity import Identity, authority_for_tenant, token_claims, unverified_claims, whoami
from .password_grant import PasswordGrantCredential

__all__ = [
    "AZURE_CLI_CLIENT_ID",
    "CredentialChoice",
    "GitHubOidcTokenSource",
    "GuardedCredential",
    "Identity",
    "PasswordGrantCredential",
    "authority_for_tenant",
    "credential_for",
    "token_claims",
    "unverified_claims",
    "whoami",
]
