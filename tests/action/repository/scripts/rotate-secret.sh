#!/usr/bin/env bash
# Rotation: write a fresh value of the secret (the probe masks it before anything could print it).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" set-secret "$VAULT_NAME" "$SECRET_NAME"
