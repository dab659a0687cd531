#!/usr/bin/env bash
# The CLI as users install it: `npm pack`, then `npm install -g` of the tarball into an
# empty prefix, then the installed `prune-lens` run from outside the checkout on a
# shared model: --version, --help, analyze, prune, validate, sensitivity.
# Needs the npm registry (or npm's cache) for onnxruntime-node.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
models=$(realpath "${PRUNE_LENS_MODELS_DIR:-../shared/models}")
version=$(node -p "require('./package.json').version")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prune-lens-cli-package-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "test-cli-package: $*" >&2; exit 1; }
step() { echo; echo "\$ $*"; }

step npm pack
npm pack --pack-destination "$tmp" >"$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log"; fail "npm pack failed"; }
tgz=$tmp/prune-lens-$version.tgz
[ -f "$tgz" ] || fail "npm pack made no $tgz"
tar tzf "$tgz" | sort | tee "$tmp/contents"
for f in package/dist/cli.js package/dist/worker.js package/dist/statsWorker.js package/dist/sliceWorker.js package/package.json package/README.md package/LICENSE; do
  grep -qx "$f" "$tmp/contents" || fail "$f is not in the tarball"
done
if grep -E '^package/(src|test|scripts|webview|media|node_modules|\.cache)/|\.map$|\.ts$' "$tmp/contents"; then
  fail "the tarball holds files that should not ship (above)"
fi
echo "tarball: $(du -k "$tgz" | cut -f1) KiB, $(wc -l <"$tmp/contents") files"

# An empty prefix: no global packages, nothing from this checkout. CUDA download skipped
# as in .npmrc (onnxruntime-node's install would fetch it from outside the npm registry).
prefix=$tmp/prefix
step npm install -g --prefix "$prefix" "$(basename "$tgz")"
ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install -g --prefix "$prefix" --no-audit --no-fund "$tgz" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "npm install -g failed"; }
bin=$prefix/bin/prune-lens
[ -x "$bin" ] || fail "no executable $bin"

# Run from an empty folder outside the checkout, with only the prefix's bin on PATH besides the system's.
work=$tmp/work
mkdir -p "$work"
cd "$work"
export PATH=$prefix/bin:/usr/local/bin:/usr/bin:/bin
export NODE_PATH=

step prune-lens --version
out=$(prune-lens --version)
echo "$out"
[ "$out" = "prune-lens $version" ] || fail "--version printed '$out', not 'prune-lens $version'"

step prune-lens --help
prune-lens --help >"$tmp/help"
head -3 "$tmp/help"
grep -q 'exit status' "$tmp/help" || fail "--help does not document the exit status"

step prune-lens analyze digits_vgg_slim_s1e-2.onnx
prune-lens analyze "$models/digits_vgg_slim_s1e-2.onnx" | tee "$tmp/analyze"
grep -q '^6 prunable layers' "$tmp/analyze" || fail "analyze did not list the 6 layers of digits_vgg_slim_s1e-2"

step prune-lens prune digits_vgg_slim_s1e-2.onnx --method bn-gamma --amount 0.5 --structured --global -o pruned.onnx
prune-lens prune "$models/digits_vgg_slim_s1e-2.onnx" --method bn-gamma --amount 0.5 --structured --global -o pruned.onnx
[ -s pruned.onnx ] || fail "prune wrote no pruned.onnx"

step prune-lens validate digits_vgg_slim_s1e-2.onnx pruned.onnx --data digits_val_x.npy --labels digits_val_y.npy --json
prune-lens validate "$models/digits_vgg_slim_s1e-2.onnx" pruned.onnx --data "$models/digits_val_x.npy" --labels "$models/digits_val_y.npy" --json >validation.json
node -e '
  const r = require("./validation.json");
  console.log(`samples ${r.samples}, accuracy ${r.original.accuracy} -> ${r.pruned.accuracy}, agreement ${r.agreement}, provider ${r.provider}`);
  if (r.samples !== 360 || !(r.pruned.accuracy >= 0.9)) process.exit(1);
' || fail "validate did not measure the pruned model on the 360 held-out digits (accuracy >= 0.9)"

step prune-lens sensitivity digits_lenet.onnx --data digits_val_x.npy --labels digits_val_y.npy --ratios 0.5
prune-lens sensitivity "$models/digits_lenet.onnx" --data "$models/digits_val_x.npy" --labels "$models/digits_val_y.npy" --ratios 0.5 | tee "$tmp/sensitivity"
grep -q 'conv1' "$tmp/sensitivity" || fail "sensitivity printed no curve for conv1"

step 'prune-lens analyze missing.onnx (exit 1)'
set +e
prune-lens analyze missing.onnx 2>"$tmp/err"
code=$?
set -e
cat "$tmp/err"
[ $code -eq 1 ] || fail "a missing model exited $code, not 1"

echo
echo "test-cli-package: the packed CLI installs into an empty prefix and runs analyze, prune, validate and sensitivity"
