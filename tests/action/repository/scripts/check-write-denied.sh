#!/usr/bin/env bash
# After the elevation: the pipeline's identity can no longer write the secret (nothing standing is left).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" set-secret-denied "$VAULT_NAME" "$SECRET_NAME"
