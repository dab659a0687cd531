// Tensors whose new data was moved out of memory into a temporary file. A
// calibrated prune of a model in external data changes one block's weights at
// a time; kept inline until the model is written, they would make the peak
// grow with the number of blocks. Each block's pruned weights go here instead,
// and come back only when asked for: tensorBytes reads them (not kept), a
// session's bytes (serializeModel) hold them while encoded, and the writer
// (save.ts) streams them into the output's data file.
//
// The file is unlinked as soon as it is opened (where the system allows it),
// so it disappears with its descriptor: nothing is left behind after success,
// an error, a cancel or a crash. Where it cannot be unlinked while open
// (Windows) it is removed when closed, or when the process exits.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PruneLensError } from './errors';
import type { TensorProto } from './schema';
import { hasOwnData } from './tensorData';

/** One temporary file that spilled tensors are appended to. */
class SpillFile {
  /** Bytes appended so far. */
  size = 0;

  constructor(readonly fd: number) {}
}

interface Spilled {
  file: SpillFile;
  offset: number;
  readonly length: number;
}

const spilled = new WeakMap<TensorProto, Spilled>();
/** One spill file per model (keyed by anything the model owns for its life: its proto). */
const files = new WeakMap<object, SpillFile>();
/** Names that could not be unlinked while open: removed when their file is collected, or at exit. */
const named = new Map<number, string>();
const closer = new FinalizationRegistry<number>((fd) => closeSpill(fd));
let exitHook = false;

function closeSpill(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed (process exit).
  }
  const name = named.get(fd);
  named.delete(fd);
  if (name) fs.rmSync(name, { force: true });
}

function openSpill(): SpillFile {
  const name = path.join(os.tmpdir(), `prune-lens-spill-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(name, 'wx+', 0o600);
  } catch (e) {
    throw new PruneLensError('io', `cannot create a temporary file for pruned weights: ${(e as Error).message}`, {}, name);
  }
  try {
    fs.unlinkSync(name);
  } catch {
    named.set(fd, name);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const f of [...named.keys()]) closeSpill(f);
      });
    }
  }
  const file = new SpillFile(fd);
  closer.register(file, fd);
  return file;
}

/**
 * Moves `t`'s data (inline bytes) to the spill file of `owner` (the model), and
 * drops it from memory. A tensor with no inline bytes is left as it is.
 */
export function spillTensor(owner: object, t: TensorProto): boolean {
  const bytes = t.raw_data;
  if (!bytes || t.data_location === 1) return false;
  let file = files.get(owner);
  if (!file) {
    file = openSpill();
    files.set(owner, file);
  }
  const offset = file.size;
  for (let done = 0; done < bytes.length;) done += fs.writeSync(file.fd, bytes, done, bytes.length - done, offset + done);
  file.size += bytes.length;
  delete t.raw_data;
  spilled.set(t, { file, offset, length: bytes.length });
  return true;
}

/** Bytes of `t`'s spilled data, unless data of its own was put into it since. */
export function spilledLength(t: TensorProto): number | undefined {
  const s = spilled.get(t);
  if (!s) return undefined;
  if (hasOwnData(t)) {
    spilled.delete(t);
    return undefined;
  }
  return s.length;
}

/** Reads `length` bytes of `t`'s spilled data from `at` (all of it by default) into new memory, not kept. */
export function readSpilled(t: TensorProto, at = 0, length?: number): Uint8Array {
  const s = spilled.get(t);
  if (!s || spilledLength(t) === undefined) throw new PruneLensError('internal', 'the tensor has no spilled data', { tensor: t.name });
  const n = length ?? s.length - at;
  const out = new Uint8Array(n);
  for (let done = 0; done < n;) {
    const got = fs.readSync(s.file.fd, out, done, n - done, s.offset + at + done);
    if (got === 0) throw new PruneLensError('io', 'the temporary file of pruned weights is shorter than written', { tensor: t.name });
    done += got;
  }
  return out;
}

/** Encodes with every spilled tensor's bytes inline for the time of `encode`, then drops them again. */
export function withSpilledInline<T>(tensors: Iterable<TensorProto>, encode: () => T): T {
  const put: TensorProto[] = [];
  try {
    for (const t of tensors) {
      if (spilledLength(t) === undefined) continue;
      t.raw_data = readSpilled(t);
      put.push(t);
    }
    return encode();
  } finally {
    // Deleting raw_data makes the tensor spilled again (its entry is still there).
    for (const t of put) delete t.raw_data;
  }
}
