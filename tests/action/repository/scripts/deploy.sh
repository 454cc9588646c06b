#!/usr/bin/env bash
# Privileged infrastructure deploy: needs write on the resource group for the length of the deployment.
set -euo pipefail
probe="$(dirname "$0")/probe.py"
python3 "$probe" can "$RESOURCE_GROUP_ID" Microsoft.Resources/deployments/write
python3 "$probe" can "$RESOURCE_GROUP_ID" Microsoft.KeyVault/vaults/write
mkdir -p out && echo "{\"deployed\": \"$GITHUB_SHA\"}" > out/deployment.json
if [ -n "${SCENARIO_HOLD_SECONDS:-}" ]; then sleep "$SCENARIO_HOLD_SECONDS"; fi
echo "deployed $GITHUB_SHA to $RESOURCE_GROUP_ID"
