// The extension as VS Code loads it, for unit tests: the bundles scripts/build.mjs
// makes (extension, worker process, analysis and stats worker threads), built
// once per run, then activated against the scripted `vscode` stand-in.

import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PruneLensApi } from '../../src/extension/services';
import { fakeContext, provideVscode, scriptedApi, type ScriptedApi, type ShownProgress } from './vscodeStandIn';

const ROOT = path.resolve(__dirname, '..', '..');
let built: Promise<string> | undefined;

/**
 * Bundles the extension into a folder laid out as the installed one (dist/…).
 * It sits under node_modules/.cache so that `require('onnxruntime-node')`
 * (external, as in the real build) resolves; it is removed when the process exits.
 */
export function buildExtension(): Promise<string> {
  built ??= (async () => {
    const dir = path.join(ROOT, 'node_modules', '.cache', 'prune-lens-test', `extension-${process.pid}`);
    const bundles: [string, string][] = [
      ['src/extension/main.ts', 'extension.js'],
      ['src/worker/worker.ts', 'worker.js'],
      ['src/extension/analysisWorker.ts', 'analysisWorker.js'],
      ['src/analysis/statsWorker.ts', 'statsWorker.js'],
    ];
    await Promise.all(bundles.map(([entry, out]) => esbuild.build({
      entryPoints: [path.join(ROOT, entry)],
      outfile: path.join(dir, 'dist', out),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'es2022',
      mainFields: ['module', 'main'],
      external: ['vscode', 'onnxruntime-node'],
      logLevel: 'warning',
    })));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return built;
}

export interface LoadedExtension {
  api: PruneLensApi;
  scripted: ScriptedApi;
  /** Deactivates the extension (its worker process and threads end) and unhooks `vscode`. */
  dispose(): void;
}

/** Activates a fresh copy of the bundled extension with `folder` as the workspace. */
export async function loadExtension(folder: string, settings: Record<string, unknown> = {},
  onProgress?: (shown: ShownProgress) => void): Promise<LoadedExtension> {
  const dir = await buildExtension();
  const scripted = scriptedApi(folder, settings, onProgress);
  const restore = provideVscode(scripted.api);
  const bundle = path.join(dir, 'dist', 'extension.js');
  delete require.cache[bundle];
  const ext = require(bundle) as { activate(ctx: unknown): PruneLensApi; deactivate(): void };
  const context = fakeContext(dir);
  const api = ext.activate(context);
  return {
    api,
    scripted,
    dispose() {
      for (const s of context.subscriptions) s.dispose();
      ext.deactivate();
      restore();
    },
  };
}
