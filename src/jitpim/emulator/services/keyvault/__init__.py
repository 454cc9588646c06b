"""Key Vault's secrets data plane: `secrets/` (live secrets, backup, restore) and `deleted_secrets/` (soft
delete, purge, recover), each with routes, handlers and a backend; `common/` holds what both share (the vault
models, errors, RBAC data actions, the per-request context and paging); `state.py` seeds the vaults."""
