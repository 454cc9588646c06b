#!/usr/bin/env bash
# Identity configuration: add a federated credential to an app registration (Application Administrator).
set -euo pipefail
python3 "$(dirname "$0")/probe.py" add-federated-credential "$APP_NAME" "$CREDENTIAL_NAME" "$SUBJECT"
