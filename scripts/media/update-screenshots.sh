#!/usr/bin/env bash
# Copies the README's pictures from the screenshots the UI tests took of the installed
# .vsix (npx tsx scripts/vscode/run.ts --installed ...) into docs/screenshots/, so the
# README shows exactly what the tests saw. Run after that suite; commit the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
from=artifacts/screenshots-installed
to=docs/screenshots
# README name                test screenshot
pictures=(
  "models-view-hover.png     extension-2-layer-hover.png"
  "prune-model.png           extension-1-method-picked.png"
  "report.png                extension-4-report-histogram.png"
  "validation.png            walkthrough-5-validated.png"
  "walkthrough.png           walkthrough-1-rendered.png"
  "installed-extension.png   smoke-installed-extension.png"
)
mkdir -p "$to"
for line in "${pictures[@]}"; do
  read -r name shot <<<"$line"
  [ -f "$from/$shot" ] || { echo "missing $from/$shot: run the --installed UI tests first" >&2; exit 1; }
  cp "$from/$shot" "$to/$name"
  echo "$to/$name  <-  $from/$shot"
done
