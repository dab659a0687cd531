// A workspace folder holding copies of the shared models and digits data. Copies, not
// links: the extension writes pruned models next to the ones it prunes, and nothing may
// ever be written into ../shared.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './codeServer';

/** Overridable so the harness also runs where the models live elsewhere. */
export const modelsDir = path.resolve(process.env.PRUNE_LENS_MODELS_DIR ?? path.join(repoRoot, '../shared/models'));

const sampleFile = /\.(onnx|npy)$/;

/**
 * Copies every *.onnx and *.npy of the models folder into `dest`. A file already in
 * `dest` is left alone, so a long-lived workspace (npm start) keeps the user's changes.
 * Returns the names of the sample files.
 */
export function createSampleWorkspace(dest: string): string[] {
  if (!fs.existsSync(modelsDir)) {
    throw new Error(`models folder not found: ${modelsDir} (set PRUNE_LENS_MODELS_DIR to the folder holding the *.onnx and *.npy samples)`);
  }
  const names = fs.readdirSync(modelsDir).filter((n) => sampleFile.test(n)).sort();
  if (names.length === 0) throw new Error(`no *.onnx or *.npy files in ${modelsDir}`);
  fs.mkdirSync(dest, { recursive: true });
  for (const name of names) {
    const target = path.join(dest, name);
    if (fs.existsSync(target)) continue;
    // Copy under a temp name first so an interrupted copy never looks like a model.
    const partial = `${target}.partial`;
    fs.copyFileSync(path.join(modelsDir, name), partial);
    fs.renameSync(partial, target);
  }
  return names;
}
