// Shared by the validation and worker tests: paths to the real models and
// data, and temporary folders.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MODELS = path.resolve(ROOT, '..', 'shared', 'models');
export const model = (name: string) => path.join(MODELS, name);

// Everything the tests write, removed in one go when the run ends.
const leftovers: string[] = [];
process.once('exit', () => {
  for (const p of leftovers) fs.rmSync(p, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prune-lens-${prefix}-`));
  leftovers.push(dir);
  return dir;
}
