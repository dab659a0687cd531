#!/usr/bin/env bash
# `npm test` (and CI through .ci/run): install what is missing, type check, build, then
# the unit tests (mocha, in Node) and the real-VS-Code tests (extension host + UI, see
# scripts/vscode/run.ts), then what users install: the .vsix packages (npm run package,
# with their size budgets), the linux-x64 one installed into a clean code-server and
# the UI tests run against it, and the CLI's npm tarball installed into an empty prefix.
# Type check and build gate the rest; the other stages always run (the install test
# needs the packages), and the exit code is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
stage() {
  local name=$1
  shift
  echo
  echo "== $name =="
  local start=$SECONDS
  if "$@"; then
    echo "== $name: ok ($((SECONDS - start)) s) =="
  else
    echo "== $name: FAILED ($((SECONDS - start)) s) =="
    failed+=("$name")
    return 1
  fi
}

stage bootstrap bash scripts/bootstrap.sh &&
  stage typecheck node_modules/.bin/tsc -p . --noEmit &&
  stage build node scripts/build.mjs &&
  {
    stage "unit tests" node_modules/.bin/mocha
    stage "VS Code tests" node_modules/.bin/tsx scripts/vscode/run.ts --no-build
    stage "packages" node scripts/package.mjs &&
      stage "installed .vsix tests" node_modules/.bin/tsx scripts/vscode/run.ts \
        --installed "artifacts/vsix/prune-lens-linux-x64-$(node -p "require('./package.json').version").vsix"
    stage "CLI package" bash scripts/test-cli-package.sh
  }

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "npm test: FAILED: ${failed[*]}"
  exit 1
fi
echo "npm test: all stages passed"
