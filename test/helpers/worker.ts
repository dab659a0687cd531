// The worker bundle for tests that fork the real worker: built once per run,
// the way scripts/build.mjs builds dist/worker.js.

import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
let built: Promise<string> | undefined;

/**
 * Bundles src/worker/worker.ts. The bundle goes under node_modules/.cache
 * so that `require('onnxruntime-node')` (kept external, as in the real build)
 * resolves from it; it is removed when the test process exits.
 */
export function buildWorker(): Promise<string> {
  built ??= (async () => {
    const outfile = path.join(ROOT, 'node_modules', '.cache', 'prune-lens-test', `worker-${process.pid}.js`);
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'src', 'worker', 'worker.ts')],
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
    process.once('exit', () => fs.rmSync(outfile, { force: true }));
    return outfile;
  })();
  return built;
}
