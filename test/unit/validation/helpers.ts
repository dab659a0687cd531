// Shared by the validation tests: the worker bundle (built once per run, the
// way scripts/build.mjs builds it) and paths to the real models and data.

import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MODELS = path.resolve(ROOT, '..', 'shared', 'models');
export const model = (name: string) => path.join(MODELS, name);

let built: Promise<string> | undefined;

// Everything the tests write, removed in one go when the run ends.
const leftovers: string[] = [];
process.once('exit', () => {
  for (const p of leftovers) fs.rmSync(p, { recursive: true, force: true });
});

/**
 * Bundles src/validation/worker.ts. The bundle goes under node_modules/.cache
 * so that `require('onnxruntime-node')` (kept external, as in the real build)
 * resolves from it.
 */
export function buildWorker(): Promise<string> {
  built ??= (async () => {
    const outfile = path.join(ROOT, 'node_modules', '.cache', 'prune-lens-test', `worker-${process.pid}.js`);
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'src', 'validation', 'worker.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'es2022',
      // As scripts/build.mjs: jsonc-parser's UMD main (plan files) hides its requires from esbuild.
      mainFields: ['module', 'main'],
      external: ['onnxruntime-node'],
      logLevel: 'warning',
    });
    leftovers.push(outfile);
    return outfile;
  })();
  return built;
}

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prune-lens-${prefix}-`));
  leftovers.push(dir);
  return dir;
}
