#!/usr/bin/env bash
# Multi-tenant partner operation: in the customer's tenant, the directory role is active for this run.
set -euo pipefail
python3 "$(dirname "$0")/probe.py" directory-role "$ROLE_NAME"
echo "operation done in tenant $AZURE_TENANT_ID for $CUSTOMER"
