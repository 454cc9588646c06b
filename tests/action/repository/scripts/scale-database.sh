#!/usr/bin/env bash
# High-impact configuration change: scaling the database needs write on it (`az sql db update` in real life).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" can "$RESOURCE_GROUP_ID" Microsoft.Sql/servers/databases/write
echo "scaled $DATABASE to $SKU"
