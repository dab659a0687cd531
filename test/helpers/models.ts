// The one place tests find the real models (../shared/models, see its
// README.md for the reference results), plus a .npy reader for their data, a
// seeded random generator, temporary folders, and a tree comparison for
// decoded messages that ignores the codec's book-keeping.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readNpyHeader } from '../../src/validation/npy';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The shared real models and their data, beside the checkout. */
export const MODELS = path.resolve(ROOT, '..', 'shared', 'models');
/** A file in the shared models folder: every real-model test finds its models and data through this. */
export const modelPath = (name: string): string => path.join(MODELS, name);

/**
 * Every *.onnx in the shared models folder (or `dir`), sorted by name. A
 * folder that is missing or holds no model is an error, so a suite generated
 * from this list fails instead of silently running zero cases.
 */
export function realModelNames(dir = MODELS): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort();
  } catch (e) {
    throw new Error(`the real models are missing: ${dir} cannot be read (${(e as Error).message}); the tests need ../shared/models beside the checkout`);
  }
  if (!names.length) throw new Error(`the real models are missing: ${dir} holds no .onnx file; the tests need ../shared/models beside the checkout`);
  return names;
}

export const DIGITS_MODELS = ['digits_lenet.onnx', 'digits_mlp.onnx', 'digits_resnet_slim_s1e-2.onnx', 'digits_vgg_slim_s1e-2.onnx'];

/** A float32 .npy file: shape and values. */
export function readNpyFloat32(file: string): { shape: number[]; data: Float32Array } {
  const h = readNpyHeader(file);
  if (h.dtype !== 'float32') throw new Error(`${file}: expected float32, found ${h.dtype}`);
  const bytes = fs.readFileSync(file).subarray(h.dataOffset);
  const count = h.shape.reduce((a, b) => a * b, 1);
  // Copy into a fresh, aligned buffer.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(0, count * 4));
  return { shape: h.shape, data };
}

/** The first `rows` rows of an int64 .npy file (token ids). */
export function readNpyInt64(file: string, rows = Infinity): { shape: number[]; data: BigInt64Array } {
  const h = readNpyHeader(file);
  if (h.dtype !== 'int64') throw new Error(`${file}: expected int64, found ${h.dtype}`);
  const shape = [Math.min(h.shape[0], rows), ...h.shape.slice(1)];
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = fs.readFileSync(file).subarray(h.dataOffset, h.dataOffset + count * 8);
  const data = new BigInt64Array(count);
  new Uint8Array(data.buffer).set(bytes);
  return { shape, data };
}

/** Mulberry32 (the pruning core's): small, fast and good enough to make test inputs reproducible. */
export { mulberry32 as seededRandom } from '../../src/pruning/unstructured/random';

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prune-lens-${prefix}-`));
  if (!tempDirs.size) process.on('exit', () => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  tempDirs.add(dir);
  return dir;
}
const tempDirs = new Set<string>();

/** Removes every `$raw` in a decoded tree, so the encoder must re-encode every message. */
export function stripRaw(node: unknown): void {
  if (!node || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
  if (Array.isArray(node)) {
    for (const item of node) stripRaw(item);
    return;
  }
  const obj = node as Record<string, unknown>;
  delete obj.$raw;
  for (const [k, v] of Object.entries(obj)) if (k !== '$unknown') stripRaw(v);
}

/**
 * The first difference between two decoded trees, as a field path, or
 * undefined when they are equal. `$raw` is ignored; bytes (including
 * `$unknown`) compare by content; numbers compare with Object.is, so a
 * number and a bigint, -0 and 0, or two NaN payloads are told apart by type.
 */
export function treeDiff(a: unknown, b: unknown, at = 'model'): string | undefined {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return `${at}: bytes vs ${typeof b}`;
    return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
      ? undefined : `${at}: bytes differ (${a.length} vs ${b.length})`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${at}: array vs ${typeof b}`;
    if (a.length !== b.length) return `${at}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = treeDiff(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => k !== '$raw'));
    for (const k of keys) {
      const d = treeDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) return undefined;
  return Object.is(a, b) ? undefined : `${at}: ${String(a)} (${typeof a}) vs ${String(b)} (${typeof b})`;
}

/** True when a chunk is a view of `buf`'s memory rather than a fresh copy. */
export function isViewOf(chunk: Uint8Array, buf: Uint8Array): boolean {
  return chunk.buffer === buf.buffer;
}
