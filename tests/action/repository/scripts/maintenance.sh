#!/usr/bin/env bash
# Scheduled maintenance: runs inside the window only (jitpim waited for its start).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" set-secret "$VAULT_NAME" maintenance-marker
echo "maintenance under $TICKET done"
