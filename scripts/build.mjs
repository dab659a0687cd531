// Bundles with esbuild: the extension, the webview, the validation worker,
// plus the CLI and the bench (which share the core).
//
//   node scripts/build.mjs               development: source maps, readable output
//   node scripts/build.mjs --watch
//   node scripts/build.mjs --production  what ships (.vsix and the npm package):
//                                        minified, no source maps, no bench
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', target: 'es2022' };
// mainFields: prefer ESM builds; jsonc-parser's UMD main hides its requires from esbuild.
const node = { ...common, platform: 'node', format: 'cjs', mainFields: ['module', 'main'], external: ['vscode', 'onnxruntime-node'] };

const entries = [
  { ...node, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/worker/worker.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/extension/analysisWorker.ts'], outfile: 'dist/analysisWorker.js' },
  { ...node, entryPoints: ['src/analysis/statsWorker.ts'], outfile: 'dist/statsWorker.js' },
  { ...node, entryPoints: ['src/onnx/sliceWorker.ts'], outfile: 'dist/sliceWorker.js' },
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  ...(production ? [] : [{ ...node, entryPoints: ['scripts/bench.ts'], outfile: 'dist/bench.js' }]),
  { ...common, platform: 'browser', format: 'iife', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' },
].filter((e) => existsSync(e.entryPoints[0]));

if (production && existsSync('dist')) {
  // Maps from an earlier development build would no longer match the minified bundles.
  for (const f of readdirSync('dist')) if (f.endsWith('.js.map')) rmSync(`dist/${f}`);
}
if (watch) {
  for (const e of entries) await (await esbuild.context(e)).watch();
} else {
  await Promise.all(entries.map((e) => esbuild.build(e)));
}
