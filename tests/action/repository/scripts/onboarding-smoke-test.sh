#!/usr/bin/env bash
# On/offboarding: the test identity, promoted into the operators group for minutes, must reach what an
# operator reaches (the vault's secrets, through the group's role assignment).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" read-secret "$VAULT_NAME" payments-api-key
echo "the operators group grants what onboarding promises ($ONBOARDING_ACTION)"
