// `npm run package`: one .vsix per platform with @vscode/vsce, each carrying only that
// platform's onnxruntime-node binaries, into artifacts/vsix/. Prints each package's size
// and fails when one exceeds its budget.
//
//   node scripts/package.mjs [--target linux-x64]...   (default: all targets)
//
// The bundles are built minified by vsce's `vscode:prepublish` (build.mjs --production).
// .vscodeignore lists what every package holds; the native files of the target are
// appended to a copy of it passed as --ignoreFile.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const outDir = path.join(root, 'artifacts/vsix');
const ortBin = 'node_modules/onnxruntime-node/bin/napi-v6';
const MiB = 1024 * 1024;

/**
 * Per target: onnxruntime-node's folder of native files, files of it not to ship, and
 * the budget for the .vsix in MiB. The budgets leave about 15% over the sizes measured
 * with onnxruntime-node 1.30 (17.7, 10.5, 13.1, 0.5, 28.1 MiB), so a stray folder, a
 * second platform's binaries or unminified bundles fail the build.
 */
const TARGETS = {
  'linux-x64': { ort: 'linux/x64', budgetMiB: 20 },
  'linux-arm64': { ort: 'linux/arm64', budgetMiB: 12 },
  // libonnxruntime.1.30.0.dylib is a copy of libonnxruntime.1.dylib (a symlink before npm
  // packed it); the binding loads @rpath/libonnxruntime.1.dylib only.
  'darwin-arm64': { ort: 'darwin/arm64', skip: [/^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/], budgetMiB: 15 },
  // onnxruntime-node 1.30 ships no darwin-x64 binaries: analysis and pruning (pure
  // TypeScript) work there, onnxruntime-backed features report that they cannot load.
  'darwin-x64': { ort: undefined, budgetMiB: 1 },
  'win32-x64': { ort: 'win32/x64', budgetMiB: 32 },
};

function parseTargets(argv) {
  const picked = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target' && argv[i + 1]) picked.push(argv[++i]);
    else throw new Error(`unknown argument: ${argv[i]}\nusage: node scripts/package.mjs [--target ${Object.keys(TARGETS).join('|')}]...`);
  }
  for (const t of picked) if (!TARGETS[t]) throw new Error(`unknown target ${t}; one of ${Object.keys(TARGETS).join(', ')}`);
  return picked.length ? picked : Object.keys(TARGETS);
}

/** The native files a target ships, relative to the repository root. */
function nativeFiles(target) {
  const { ort, skip = [] } = TARGETS[target];
  if (!ort) return [];
  const dir = path.join(root, ortBin, ort);
  if (!fs.existsSync(dir)) throw new Error(`${path.relative(root, dir)} is missing: onnxruntime-node is not installed (npm ci)`);
  return fs.readdirSync(dir).filter((f) => !skip.some((re) => re.test(f))).map((f) => `${ortBin}/${ort}/${f}`);
}

function packageTarget(target, version, ignoreDir) {
  const ignoreFile = path.join(ignoreDir, `${target}.vscodeignore`);
  const base = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  fs.writeFileSync(ignoreFile, `${base}\n# ${target}\n${nativeFiles(target).map((f) => `!${f}`).join('\n')}\n`);
  const out = path.join(outDir, `prune-lens-${target}-${version}.vsix`);
  fs.rmSync(out, { force: true });
  const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--out', out], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`vsce package --target ${target} failed (exit ${r.status})`);
  return out;
}

function main() {
  const targets = parseTargets(process.argv.slice(2));
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.mkdirSync(outDir, { recursive: true });
  const ignoreDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-package-'));
  const rows = [];
  try {
    for (const target of targets) {
      const file = packageTarget(target, version, ignoreDir);
      const size = fs.statSync(file).size;
      rows.push({ target, file, size, budget: TARGETS[target].budgetMiB * MiB });
    }
  } finally {
    fs.rmSync(ignoreDir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => path.relative(root, r.file).length));
  console.log(`\n${'package'.padEnd(width)}       size    budget`);
  for (const r of rows) {
    const over = r.size > r.budget;
    console.log(`${path.relative(root, r.file).padEnd(width)} ${(r.size / MiB).toFixed(1).padStart(6)} MiB ${String(r.budget / MiB).padStart(5)} MiB${over ? '  OVER BUDGET' : ''}`);
  }
  const over = rows.filter((r) => r.size > r.budget);
  if (over.length) {
    console.error(`\nnpm run package: ${over.map((r) => r.target).join(', ')} over budget`);
    process.exit(1);
  }
}

try {
  main();
} catch (err) {
  console.error(`npm run package: ${err.message}`);
  process.exit(1);
}
