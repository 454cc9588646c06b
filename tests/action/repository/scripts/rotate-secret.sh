#!/usr/bin/env bash
# Rotation: write a fresh value of the secret (the probe masks it before anything could print it).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" set-secret "$VAULT_NAME" "$SECRET_NAME"
# The tests hold the step here to cancel it mid-flight.
if [ -n "${SCENARIO_HOLD_SECONDS:-}" ]; then sleep "$SCENARIO_HOLD_SECONDS"; fi
# ... or to make it fail after the write.
if [ -n "${SCENARIO_EXIT:-}" ]; then exit "$SCENARIO_EXIT"; fi
