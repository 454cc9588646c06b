#!/usr/bin/env bash
# Incident response: read-only diagnostics of the affected resource group, kept as an artifact.
set -euo pipefail
mkdir -p diagnostics
python3 "$(dirname "$0")/probe.py" can "$RESOURCE_GROUP_ID" Microsoft.Insights/diagnosticSettings/read
python3 "$(dirname "$0")/probe.py" assignments "$RESOURCE_GROUP_ID" diagnostics/role-assignments.json
echo "diagnostics for incident $INCIDENT collected"
