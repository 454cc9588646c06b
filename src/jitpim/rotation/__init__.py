"""Secret rotation under just-in-time elevation: Key Vault secrets and app-registration credentials."""
