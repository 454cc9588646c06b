#!/usr/bin/env bash
# Access review: the just-in-time path works (the lease's Key Vault token writes and reads the canary) and the
# identity holds nothing standing (checked by the workflow before and after this step). The check is on the data
# plane, where the role works: inside `jitpim exec` the script gets Key Vault tokens only, not ARM.
set -euo pipefail
python3 "$(dirname "$0")/probe.py" set-secret "$VAULT_NAME" access-review-canary
python3 "$(dirname "$0")/probe.py" read-secret "$VAULT_NAME" access-review-canary
