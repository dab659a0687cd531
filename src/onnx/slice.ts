// Keeping some indices along several axes of a tensor at once, on raw bytes,
// so any element type is sliced bit for bit and each tensor is copied once:
// in memory (gatherAxes), or from a tensor in a data file, a chunk of rows at
// a time (TensorSlice, sliceJobs, runSliceJob), so that slicing a weight of
// any size needs one chunk of memory. The chunked form runs on worker threads
// (slicePool.ts) when the writer produces a pruned model's data file.

import * as fs from 'node:fs';
import { PruneLensError } from './errors';

/** keeps[a] lists the indices of axis a to keep (ascending), or is undefined to keep the whole axis. */
export type Keeps = (ArrayLike<number> | undefined)[];

/** Gathers the kept indices of `bytes` ([dims] of `elemSize`-byte elements), into `out` when given (it must fit). */
export function gatherAxes(bytes: Uint8Array, dims: number[], keeps: Keeps, elemSize: number, into?: Uint8Array): Uint8Array {
  let last = -1;
  keeps.forEach((k, a) => {
    if (k) last = a;
  });
  const outDims = dims.map((d, a) => keeps[a]?.length ?? d);
  const n = count(outDims) * elemSize;
  const out = into ? into.subarray(0, n) : new Uint8Array(n);
  if (last < 0) {
    out.set(bytes.subarray(0, n));
    return out;
  }
  if (dims.length === 2 && !keeps[0] && keeps[1] && (elemSize === 2 || elemSize === 4)
    && bytes.byteOffset % elemSize === 0 && out.byteOffset % elemSize === 0) {
    return gatherColumns(bytes, dims[0], dims[1], Int32Array.from(keeps[1]), elemSize, out);
  }
  const stride: number[] = new Array(dims.length);
  stride[dims.length - 1] = elemSize;
  for (let a = dims.length - 2; a >= 0; a--) stride[a] = stride[a + 1] * dims[a + 1];
  // Everything after the last sliced axis is one contiguous block.
  const block = stride[last];
  const lists = dims.map((d, a) => Int32Array.from(keeps[a] ?? { length: d }, (v, i) => v ?? i));
  // Small blocks (a 3x3 kernel is 36 bytes, an fp16 column is 2) are copied by a loop, in the
  // widest words that alignment allows.
  const unit = [4, 2].find((u) => bytes.byteOffset % u === 0 && out.byteOffset % u === 0 && block % u === 0) ?? 1;
  const view = (b: Uint8Array): Uint32Array | Uint16Array | Uint8Array => (unit === 4 ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4)
    : unit === 2 ? new Uint16Array(b.buffer, b.byteOffset, b.length / 2) : b);
  const src = view(bytes);
  const dst = view(out);
  const words = block / unit;
  let p = 0;
  const copy = (a: number, base: number): void => {
    const list = lists[a];
    const s = stride[a];
    if (a === last) {
      if (block >= 256) {
        for (let j = 0; j < list.length; j++) {
          const from = base + list[j] * s;
          out.set(bytes.subarray(from, from + block), p);
          p += block;
        }
      } else if (words === 1) {
        // One element per kept index (a column of a matrix): the common case of MatMul weights.
        const f = base / unit;
        const step = s / unit;
        let t = p / unit;
        for (let j = 0; j < list.length; j++) dst[t++] = src[f + list[j] * step];
        p = t * unit;
      } else {
        for (let j = 0; j < list.length; j++) {
          const f = (base + list[j] * s) / unit;
          const t = p / unit;
          for (let b = 0; b < words; b++) dst[t + b] = src[f + b];
          p += block;
        }
      }
      return;
    }
    for (let j = 0; j < list.length; j++) copy(a + 1, base + list[j] * s);
  };
  copy(0, 0);
  return out;
}

/** Columns of a row-major matrix of 2- or 4-byte elements (the in-channels of MatMul weights): one tight loop. */
function gatherColumns(bytes: Uint8Array, rows: number, cols: number, keep: Int32Array, elemSize: number, out: Uint8Array): Uint8Array {
  if (elemSize === 2) {
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols);
    gatherRows16(src, new Uint16Array(out.buffer, out.byteOffset, rows * keep.length), rows, cols, keep);
  } else {
    const src = new Uint32Array(bytes.buffer, bytes.byteOffset, rows * cols);
    gatherRows32(src, new Uint32Array(out.buffer, out.byteOffset, rows * keep.length), rows, cols, keep);
  }
  return out;
}

// One function per element width, so each loop sees one array type (V8 optimises it monomorphically).
function gatherRows16(src: Uint16Array, dst: Uint16Array, rows: number, cols: number, keep: Int32Array): void {
  let t = 0;
  for (let r = 0, base = 0; r < rows; r++, base += cols) for (let j = 0; j < keep.length; j++) dst[t++] = src[base + keep[j]];
}

function gatherRows32(src: Uint32Array, dst: Uint32Array, rows: number, cols: number, keep: Int32Array): void {
  let t = 0;
  for (let r = 0, base = 0; r < rows; r++, base += cols) for (let j = 0; j < keep.length; j++) dst[t++] = src[base + keep[j]];
}

/** Index lists composed: keeping `inner` of what `outer` kept is keeping these of the original. */
export function composeKeeps(outer: Keeps, inner: Keeps): Keeps {
  return inner.map((k, a) => {
    const o = outer[a];
    if (!k) return o;
    if (!o) return k;
    return Int32Array.from(k, (i) => o[i]);
  });
}

function count(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** A tensor in a data file, and the indices of it that are kept. */
export interface TensorSlice {
  /** The data file, already resolved and checked against the model's folder. */
  file: string;
  /** Where the tensor's bytes start in it. */
  offset: number;
  /** The tensor's dims in the file. */
  dims: number[];
  keeps: (Int32Array | undefined)[];
  elemSize: number;
  /** Floating-point elements: -0 counts as a zero. */
  floating: boolean;
  tensor?: string;
}

export function sliceDims(s: TensorSlice): number[] {
  return s.dims.map((d, a) => s.keeps[a]?.length ?? d);
}

export function sliceBytes(s: TensorSlice): number {
  return count(sliceDims(s)) * s.elemSize;
}

/** One chunk of a slice: the kept rows (indices of axis 0 after the cut) [from, to), and where they go in the sliced bytes. */
export interface SliceJob {
  slice: TensorSlice;
  from: number;
  to: number;
  /** Byte offset of row `from` in the sliced tensor's bytes. */
  at: number;
  /** Bytes this job produces. */
  length: number;
}

/**
 * Source bytes one job reads at most (more only when a single row is larger).
 * Small pieces stay in the cache between the read, the gather and the write:
 * writing a 2 GB cut with 1 MB jobs took 2.4-2.9 s against 6.5-17 s with 8 MB
 * (0.9 s of system time against 4-7 s), on a busy 2-core machine.
 */
export const SLICE_CHUNK = 1024 * 1024;

/**
 * Splits a slice into jobs of whole rows, each reading one contiguous span of
 * the source of at most `chunk` bytes: the rows from the first kept row to the
 * last. Reading the removed rows in between costs less than a read per run.
 */
export function sliceJobs(slice: TensorSlice, chunk = SLICE_CHUNK): SliceJob[] {
  const out = sliceDims(slice);
  if (out.length === 0) return [{ slice, from: 0, to: 1, at: 0, length: slice.elemSize }];
  const rows = out[0];
  const srcRow = count(slice.dims.slice(1)) * slice.elemSize;
  const outRow = count(out.slice(1)) * slice.elemSize;
  const k0 = slice.keeps[0];
  const source = (r: number) => (k0 ? k0[r] : r);
  const jobs: SliceJob[] = [];
  for (let from = 0; from < rows;) {
    let to = from + 1;
    // Whole rows while the span from the first source row stays within the chunk.
    if (srcRow > 0) {
      const limit = source(from) + Math.max(1, Math.floor(chunk / srcRow));
      if (k0) {
        while (to < rows && source(to) < limit) to++;
      } else to = Math.min(rows, limit);
    } else to = rows;
    jobs.push({ slice, from, to, at: from * outRow, length: (to - from) * outRow });
    from = to;
  }
  return jobs;
}

/** Buffers a thread reuses from job to job. */
export interface SliceBuffers {
  input: Uint8Array;
  output: Uint8Array;
}

export function sliceBuffers(): SliceBuffers {
  return { input: new Uint8Array(0), output: new Uint8Array(0) };
}

/** Reads the job's span of the source and gathers its kept elements; the result is a view of `buffers.output`. */
export function runSliceJob(job: SliceJob, buffers: SliceBuffers): Uint8Array {
  const { slice, from, to } = job;
  const srcRow = count(slice.dims.slice(1)) * slice.elemSize;
  const k0 = slice.keeps[0];
  const first = k0 ? k0[from] : from;
  const last = k0 ? k0[to - 1] : to - 1;
  const spanRows = slice.dims.length ? last - first + 1 : 1;
  const span = spanRows * (slice.dims.length ? srcRow : slice.elemSize);
  if (buffers.input.length < span) buffers.input = new Uint8Array(span);
  if (buffers.output.length < job.length) buffers.output = new Uint8Array(job.length);
  const input = buffers.input.subarray(0, span);
  readAt(slice, input, slice.offset + first * srcRow);
  if (!slice.dims.length) {
    buffers.output.set(input);
    return buffers.output.subarray(0, job.length);
  }
  const keeps: Keeps = [k0 ? Int32Array.from(k0.subarray(from, to), (v) => v - first) : undefined, ...slice.keeps.slice(1)];
  return gatherAxes(input, [spanRows, ...slice.dims.slice(1)], keeps, slice.elemSize, buffers.output);
}

function readAt(slice: TensorSlice, into: Uint8Array, position: number): void {
  let fd: number;
  try {
    fd = fs.openSync(slice.file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PruneLensError('external-data', `cannot read the external data file ${slice.file}: ${err.code ?? err.message}`, { tensor: slice.tensor });
  }
  try {
    let got = 0;
    while (got < into.length) {
      const n = fs.readSync(fd, into, got, into.length - got, position + got);
      if (n === 0) throw new PruneLensError('external-data', `the external data file ${slice.file} ends before the tensor's bytes do`, { tensor: slice.tensor });
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Elements that are zero: all bits clear, but for the sign of a floating-point zero. */
export function countZeroElements(bytes: Uint8Array, elemSize: number, floating: boolean): number {
  let zeros = 0;
  if (elemSize === 2 && bytes.byteOffset % 2 === 0) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
    const mask = floating ? 0x7fff : 0xffff;
    for (let i = 0; i < h.length; i++) zeros += (h[i] & mask) === 0 ? 1 : 0;
    return zeros;
  }
  if (elemSize === 4 && bytes.byteOffset % 4 === 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    const mask = floating ? 0x7fffffff : 0xffffffff;
    for (let i = 0; i < w.length; i++) zeros += (w[i] & mask) === 0 ? 1 : 0;
    return zeros;
  }
  // Little-endian: the sign bit is the top bit of the last byte.
  for (let p = 0; p < bytes.length; p += elemSize) {
    let bits = floating ? bytes[p + elemSize - 1] & 0x7f : bytes[p + elemSize - 1];
    for (let b = 0; b < elemSize - 1; b++) bits |= bytes[p + b];
    zeros += bits === 0 ? 1 : 0;
  }
  return zeros;
}
