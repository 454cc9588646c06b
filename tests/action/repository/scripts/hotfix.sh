#!/usr/bin/env bash
# Production hotfix: write access to the production resource group, for the ticket's fix only.
set -euo pipefail
python3 "$(dirname "$0")/probe.py" can "$RESOURCE_GROUP_ID" Microsoft.Web/sites/config/write
echo "hotfix applied for $HOTFIX_TICKET"
