#!/usr/bin/env bash
# Access review: the just-in-time path works (can write) and the identity holds nothing standing (checked by
# the workflow before and after this step).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" can "$VAULT_ID" Microsoft.KeyVault/vaults/read
python3 "$(dirname "$0")/probe.py" set-secret "$VAULT_NAME" access-review-canary
