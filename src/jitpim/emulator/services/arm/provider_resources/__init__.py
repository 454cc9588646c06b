"""Writes of plain ARM resources (resource groups, Key Vault vaults and secrets, storage accounts), shared by
their REST PUTs and by template deployments."""
