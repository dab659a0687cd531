// Activation cost of the bundled extension (dist/extension.js): loading the
// bundle plus activate(), with `vscode` replaced by an inert stand-in that
// accepts every registration. Also counts .onnx files opened during it, which
// must be zero: activation parses nothing.
//
//   const { ms, parsedFiles } = await measureActivation();   // target: ms <= 50, parsedFiles == 0

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fakeContext, inertApi, provideVscode } from '../../test/helpers/vscodeStandIn';

export async function measureActivation(): Promise<{ ms: number; parsedFiles: number }> {
  const root = repoRoot();
  const bundle = path.join(root, 'dist', 'extension.js');
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} not found: run node scripts/build.mjs first`);

  const opened = new Set<string>();
  const restoreFs = watchModelReads(opened);
  const restoreVscode = provideVscode(inertApi());
  try {
    delete require.cache[bundle];
    const start = process.hrtime.bigint();
    const ext = require(bundle) as { activate(ctx: unknown): unknown };
    const api = ext.activate(fakeContext(root));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    // Anything activate() scheduled (timers, promises) gets the chance to read files too.
    await new Promise((r) => setTimeout(r, 200));
    const analyses = (api as { services?: { cache?: { analyses?: number } } })?.services?.cache?.analyses ?? 0;
    return { ms, parsedFiles: Math.max(opened.size, analyses) };
  } finally {
    restoreVscode();
    restoreFs();
  }
}

function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'prune-lens') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no prune-lens package.json above ${__dirname}`);
  }
}

/** Records every .onnx path opened through fs while active. */
function watchModelReads(opened: Set<string>): () => void {
  // The module object itself (an `import * as` namespace has read-only getters).
  const realFs = require('node:fs') as typeof fs;
  const targets: [Record<string, unknown>, string][] = [
    [realFs as unknown as Record<string, unknown>, 'readFile'],
    [realFs as unknown as Record<string, unknown>, 'readFileSync'],
    [realFs as unknown as Record<string, unknown>, 'open'],
    [realFs as unknown as Record<string, unknown>, 'openSync'],
    [realFs as unknown as Record<string, unknown>, 'createReadStream'],
    [realFs.promises as unknown as Record<string, unknown>, 'readFile'],
    [realFs.promises as unknown as Record<string, unknown>, 'open'],
  ];
  const originals = targets.map(([obj, key]) => obj[key] as (...a: unknown[]) => unknown);
  targets.forEach(([obj, key], i) => {
    obj[key] = function (this: unknown, file: unknown, ...rest: unknown[]) {
      if (typeof file === 'string' && file.toLowerCase().endsWith('.onnx')) opened.add(path.resolve(file));
      return originals[i].call(this, file, ...rest);
    };
  });
  return () => targets.forEach(([obj, key], i) => (obj[key] = originals[i]));
}
