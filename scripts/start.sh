#!/usr/bin/env bash
# `npm start`: install what is missing, build, and serve Prune Lens in code-server
# (the real VS Code workbench) on 127.0.0.1. Prints the URL to open; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
node scripts/build.mjs
exec node_modules/.bin/tsx scripts/vscode/start.ts
