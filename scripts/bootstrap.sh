#!/usr/bin/env bash
# Installs what the project needs, from the npm registry and Debian's packages only.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.bootstrap-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm dependencies"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
