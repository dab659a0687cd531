#!/usr/bin/env bash
# The whole test suite: type check, bundles, core unit tests (mocha).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npx tsc -p . --noEmit
node scripts/build.mjs
npx mocha
