#!/usr/bin/env bash
# The window's start: the one asked for, else the next 02:00 UTC (portable: no GNU date needed on macOS).
set -euo pipefail
start="${REQUESTED_START:-$(python3 -c 'import datetime as d; n = d.datetime.now(d.timezone.utc); s = n.replace(hour=2, minute=0, second=0, microsecond=0); s = s if s > n else s + d.timedelta(days=1); print(s.strftime("%Y-%m-%dT%H:%M:%SZ"))')}"
echo "start=$start" >> "$GITHUB_OUTPUT"
echo "maintenance window starts at $start"
