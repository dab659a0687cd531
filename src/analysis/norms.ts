// Per-channel statistics of a weight tensor in one pass: L1, L2 and exact zeros
// along its first two axes. The data is visited in blocks of whole rows, so an
// unaligned or non-fp32 tensor is converted a block at a time and memory stays
// flat however large the tensor is.

import { bytesToFloatsInto, DataType, elementSize, halfToFloat, isExternal, tensorBytes, type ExternalReader } from '../onnx/tensor';
import type { TensorProto } from '../onnx/schema';
import { deferredSlice } from '../onnx/deferred';
import { halfKernel, type HalfKernel } from './halfKernel';

export interface AxisStats {
  /** Per index of axis 0. */
  l1a: Float64Array;
  l2a: Float64Array;
  /** Per index of axis 1, widened by groups: index = group(axis0) * d1 + i1. */
  l1b: Float64Array;
  l2b: Float64Array;
  zeros: number;
  count: number;
}

const BLOCK_ELEMENTS = 1 << 18;
/** Bytes of 16-bit values copied into the WebAssembly kernel's memory per call. */
const KERNEL_BLOCK_BYTES = 1 << 21;
// One conversion buffer for all accumulators of a thread: they run one at a time, and a model has hundreds.
let scratch = new Float32Array(0);

/**
 * Statistics of a tensor seen as [d0, d1, inner]. `groups` splits axis 0 into
 * equal groups, each with its own d1 indices (grouped convolution weights).
 * Those of external tensors are remembered: the analysis before a prune, the
 * ranking and the report then read each weight from disk once, not three times.
 */
export function axisStats(t: TensorProto, dims: number[], groups: number, external?: ExternalReader): AxisStats {
  const known = rememberedStats(t, dims, groups);
  if (known) return known;
  const acc = new AxisAccumulator(tensorBytes(t, external), dims, groups, t.data_type ?? DataType.FLOAT, t.name);
  acc.feed(Infinity);
  rememberStats(t, dims, groups, acc.stats);
  return acc.stats;
}

/** AxisStats with the zeros counted and the norms left at 0 (see AnalyzeOptions.zerosOnly). */
export function zeroStats(t: TensorProto, dims: number[], groups: number, external?: ExternalReader): AxisStats {
  const d0 = dims[0] ?? 1;
  const d1 = dims.length > 1 ? dims[1] : 1;
  const g = groups > 0 && d0 % groups === 0 ? groups : 1;
  const count = dims.reduce((p, d) => p * d, 1);
  const known = rememberedStats(t, dims, groups);
  return {
    l1a: new Float64Array(d0), l2a: new Float64Array(d0), l1b: new Float64Array(g * d1), l2b: new Float64Array(g * d1),
    // A cut not made yet knows its zeros (or they were counted on worker threads): it is not made here.
    zeros: known ? known.zeros : deferredSlice(t)?.zeros ?? countZeros(tensorBytes(t, external), t.data_type ?? DataType.FLOAT), count,
  };
}

/** Elements equal to zero (either sign), without converting: 16-bit floats by their bits. */
function countZeros(bytes: Uint8Array, dt: number): number {
  let zeros = 0;
  if ((dt === DataType.FLOAT16 || dt === DataType.BFLOAT16) && bytes.byteOffset % 2 === 0) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    for (let i = 0; i < h.length; i++) zeros += (h[i] & 0x7fff) === 0 ? 1 : 0;
    return zeros;
  }
  for (let at = 0; at < bytes.length; at += BLOCK_ELEMENTS * elementSize(dt)) {
    const part = bytes.subarray(at, Math.min(bytes.length, at + BLOCK_ELEMENTS * elementSize(dt)));
    const n = part.length / elementSize(dt);
    const f = dt === DataType.FLOAT && part.byteOffset % 4 === 0 ? new Float32Array(part.buffer, part.byteOffset, n)
      : bytesToFloatsInto(part, dt, scratch.length >= n ? scratch : (scratch = new Float32Array(Math.max(n, BLOCK_ELEMENTS))));
    for (let i = 0; i < n; i++) zeros += f[i] === 0 ? 1 : 0;
  }
  return zeros;
}

interface Remembered {
  /** The external data reference the stats are of: a tensor that is rewritten loses it. */
  ref: string;
  layout: string;
  stats: AxisStats;
}

const remembered = new WeakMap<TensorProto, Remembered[]>();

function refKey(t: TensorProto): string {
  return JSON.stringify(t.external_data.map((e) => [e.key, e.value]));
}

/** Keeps the stats of an external tensor for later axisStats calls (other tensors change in memory). */
export function rememberStats(t: TensorProto, dims: number[], groups: number, stats: AxisStats): void {
  if (!isExternal(t)) return;
  const ref = refKey(t);
  const list = (remembered.get(t) ?? []).filter((r) => r.ref === ref);
  list.push({ ref, layout: `${dims.join('x')}/${groups}`, stats });
  remembered.set(t, list);
}

/** The zeros of an external tensor whose stats are remembered (in any layout: the count is the same). */
export function rememberedZeros(t: TensorProto): number | undefined {
  if (!isExternal(t)) return undefined;
  const ref = refKey(t);
  return remembered.get(t)?.find((r) => r.ref === ref)?.stats.zeros;
}

function rememberedStats(t: TensorProto, dims: number[], groups: number): AxisStats | undefined {
  if (!isExternal(t)) return undefined;
  const ref = refKey(t);
  const layout = `${dims.join('x')}/${groups}`;
  return remembered.get(t)?.find((r) => r.ref === ref && r.layout === layout)?.stats;
}

/**
 * Accumulates AxisStats row by row as the tensor's bytes become available, so
 * analysis can run while the file is still being read, or as chunks of an
 * external data file arrive (addRows).
 */
export class AxisAccumulator {
  readonly stats: AxisStats;
  private row = 0;
  private readonly d0: number;
  private readonly d1: number;
  private readonly inner: number;
  private readonly perGroup: number;
  private readonly esize: number;

  /** `bytes`: the whole tensor, for feed(); omit it when the data comes through addRows(). */
  constructor(private readonly bytes: Uint8Array | undefined, readonly dims: number[], groups: number, private readonly dt: number, private readonly name?: string) {
    this.d0 = dims[0] ?? 1;
    this.d1 = dims.length > 1 ? dims[1] : 1;
    let inner = 1;
    for (let i = 2; i < dims.length; i++) inner *= dims[i];
    this.inner = inner;
    const g = groups > 0 && this.d0 % groups === 0 ? groups : 1;
    this.perGroup = this.d0 / g;
    this.esize = elementSize(dt);
    this.stats = {
      l1a: new Float64Array(this.d0), l2a: new Float64Array(this.d0),
      l1b: new Float64Array(g * this.d1), l2b: new Float64Array(g * this.d1), zeros: 0, count: this.d0 * this.d1 * inner,
    };
  }

  /** Whether 16-bit rows go through the WebAssembly kernel (halfKernel.ts), where it is available. */
  get usesKernel(): boolean {
    return this.inner === 1 && (this.dt === DataType.FLOAT16 || this.dt === DataType.BFLOAT16);
  }

  get done(): boolean {
    return this.row >= this.d0 || this.d1 * this.inner === 0;
  }

  /** Bytes in one row (one index of axis 0). */
  get rowBytes(): number {
    return this.d1 * this.inner * this.esize;
  }

  /** Processes every complete row within the first `available` bytes of the tensor's data. */
  feed(available: number): void {
    if (this.done || !this.bytes) return;
    const rowBytes = this.rowBytes;
    const ready = Math.min(this.d0, Math.floor(Math.min(available, this.bytes.length) / rowBytes));
    if (ready > this.row) this.addRows(this.bytes.subarray(this.row * rowBytes, ready * rowBytes));
  }

  /** Processes the next rows, whole rows only: `part` starts at the first row not yet seen. */
  addRows(part: Uint8Array): void {
    const rowLen = this.d1 * this.inner;
    const rowBytes = rowLen * this.esize;
    if (rowLen === 0) return;
    const rows = Math.min(this.d0 - this.row, Math.floor(part.length / rowBytes));
    const kernel = this.usesKernel ? halfKernel() : null;
    const rowsPerBlock = kernel ? kernelBlockRows(part, kernel, rowLen) : Math.max(1, Math.floor(BLOCK_ELEMENTS / rowLen));
    for (let done = 0; done < rows;) {
      let n = Math.min(rowsPerBlock, rows - done);
      const r0 = this.row;
      // A block's rows share one group's columns (grouped 1x1 convolutions).
      if (kernel) n = Math.min(n, (Math.floor(r0 / this.perGroup) + 1) * this.perGroup - r0);
      const bytes = part.subarray(done * rowBytes, (done + n) * rowBytes);
      if (kernel) {
        const s = this.stats;
        const col = Math.floor(r0 / this.perGroup) * this.d1;
        const zeros = kernel.run(bytes, n, this.d1, this.dt as DataType.FLOAT16 | DataType.BFLOAT16,
          s.l1a.subarray(r0, r0 + n), s.l2a.subarray(r0, r0 + n), s.l1b.subarray(col, col + this.d1), s.l2b.subarray(col, col + this.d1));
        if (zeros !== undefined) {
          s.zeros += zeros;
          this.row += n;
          done += n;
          continue;
        }
        // An infinity or a NaN: the JavaScript kernels below give them their IEEE meaning.
      }
      if (this.dt === DataType.FLOAT16 && this.inner === 1 && bytes.byteOffset % 2 === 0) {
        // fp16 matrices (language models): read the bits directly, four rows at a time.
        this.stats.zeros += accumulateHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, n * rowLen), r0, n, this.d1, this.perGroup, this.stats);
        this.row += n;
        done += n;
        continue;
      }
      const block = this.floats(bytes);
      this.stats.zeros += this.inner === 1
        ? accumulatePairs(block, r0, n, this.d1, this.perGroup, this.stats)
        : accumulate(block, r0, n, this.d1, this.inner, this.perGroup, this.stats);
      this.row += n;
      done += n;
    }
  }

  /** The block as float32: a view of aligned fp32, else converted into the shared scratch. */
  private floats(part: Uint8Array): Float32Array {
    if (this.dt === DataType.FLOAT && part.byteOffset % 4 === 0) return new Float32Array(part.buffer, part.byteOffset, part.length / 4);
    const n = part.length / this.esize;
    if (scratch.length < n) scratch = new Float32Array(Math.max(n, BLOCK_ELEMENTS));
    return bytesToFloatsInto(part, this.dt, scratch, this.name);
  }
}

// Branch-free on purpose: with real weights the sign is random, and a mispredicted
// branch per element made this loop three times slower.
function accumulate(block: Float32Array, r0: number, rows: number, d1: number, inner: number, perGroup: number, s: AxisStats): number {
  const { l1a, l2a, l1b, l2b } = s;
  let zeros = 0;
  let p = 0;
  for (let r = 0; r < rows; r++) {
    const i0 = r0 + r;
    const bBase = Math.floor(i0 / perGroup) * d1;
    let rowL1 = 0;
    let rowL2 = 0;
    for (let i1 = 0; i1 < d1; i1++) {
      let c1 = 0;
      let c2 = 0;
      const end = p + inner;
      for (; p < end; p++) {
        const x = block[p];
        c1 += Math.abs(x);
        c2 += x * x;
        zeros += x === 0 ? 1 : 0;
      }
      rowL1 += c1;
      rowL2 += c2;
      l1b[bBase + i1] += c1;
      l2b[bBase + i1] += c2;
    }
    l1a[i0] += rowL1;
    l2a[i0] += rowL2;
  }
  return zeros;
}

/**
 * The same for kernels of one element (Gemm, MatMul, 1x1 conv), where every
 * element also updates a column sum: two rows at a time halve those
 * read-modify-writes, which dominate this case (1.9x faster).
 */
function accumulatePairs(block: Float32Array, r0: number, rows: number, d1: number, perGroup: number, s: AxisStats): number {
  const { l1a, l2a, l1b, l2b } = s;
  let zeros = 0;
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    const bBase = Math.floor((r0 + r) / perGroup) * d1;
    if (Math.floor((r0 + r + 1) / perGroup) * d1 !== bBase) break;
    const pa = r * d1;
    const pb = pa + d1;
    let a1 = 0;
    let a2 = 0;
    let b1 = 0;
    let b2 = 0;
    for (let i = 0; i < d1; i++) {
      const x = block[pa + i];
      const y = block[pb + i];
      const ax = Math.abs(x);
      const ay = Math.abs(y);
      const qx = x * x;
      const qy = y * y;
      a1 += ax;
      a2 += qx;
      b1 += ay;
      b2 += qy;
      l1b[bBase + i] += ax + ay;
      l2b[bBase + i] += qx + qy;
      zeros += (x === 0 ? 1 : 0) + (y === 0 ? 1 : 0);
    }
    l1a[r0 + r] += a1;
    l2a[r0 + r] += a2;
    l1a[r0 + r + 1] += b1;
    l2a[r0 + r + 1] += b2;
  }
  // Rows left over, or pairs that straddle two groups: one at a time.
  if (r < rows) zeros += accumulate(block.subarray(r * d1), r0 + r, rows - r, d1, 1, perGroup, s);
  return zeros;
}

let HALF_ABS: Float32Array | undefined;

/** |x| for every fp16 bit pattern without its sign (32768 entries). */
function halfAbsTable(): Float32Array {
  if (!HALF_ABS) {
    HALF_ABS = new Float32Array(32768);
    for (let h = 0; h < 32768; h++) HALF_ABS[h] = halfToFloat(h);
  }
  return HALF_ABS;
}

/**
 * accumulatePairs for fp16 bits, four rows at a time: |x| comes from a table
 * indexed by the bits without the sign, so there is no conversion pass, and
 * the column sums are updated once per four elements. Returns the zeros.
 */
function accumulateHalf(h: Uint16Array, r0: number, rows: number, d1: number, perGroup: number, s: AxisStats): number {
  const abs = halfAbsTable();
  const { l1a, l2a, l1b, l2b } = s;
  let zeros = 0;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const bBase = Math.floor((r0 + r) / perGroup) * d1;
    if (Math.floor((r0 + r + 3) / perGroup) * d1 !== bBase) break;
    const p0 = r * d1;
    const p1 = p0 + d1;
    const p2 = p1 + d1;
    const p3 = p2 + d1;
    let a1 = 0; let a2 = 0; let b1 = 0; let b2 = 0; let c1 = 0; let c2 = 0; let e1 = 0; let e2 = 0;
    for (let i = 0; i < d1; i++) {
      const ka = h[p0 + i] & 0x7fff;
      const kb = h[p1 + i] & 0x7fff;
      const kc = h[p2 + i] & 0x7fff;
      const kd = h[p3 + i] & 0x7fff;
      const x = abs[ka];
      const y = abs[kb];
      const z = abs[kc];
      const w = abs[kd];
      const qx = x * x;
      const qy = y * y;
      const qz = z * z;
      const qw = w * w;
      a1 += x; a2 += qx; b1 += y; b2 += qy; c1 += z; c2 += qz; e1 += w; e2 += qw;
      l1b[bBase + i] += (x + y) + (z + w);
      l2b[bBase + i] += (qx + qy) + (qz + qw);
      zeros += (ka === 0 ? 1 : 0) + (kb === 0 ? 1 : 0) + (kc === 0 ? 1 : 0) + (kd === 0 ? 1 : 0);
    }
    const i0 = r0 + r;
    l1a[i0] += a1; l2a[i0] += a2;
    l1a[i0 + 1] += b1; l2a[i0 + 1] += b2;
    l1a[i0 + 2] += c1; l2a[i0 + 2] += c2;
    l1a[i0 + 3] += e1; l2a[i0 + 3] += e2;
  }
  // Rows left over, or groups of four that straddle two groups: through the float path.
  if (r < rows) {
    const rest = h.subarray(r * d1, rows * d1);
    const bytes = new Uint8Array(rest.buffer, rest.byteOffset, rest.length * 2);
    if (scratch.length < rest.length) scratch = new Float32Array(Math.max(rest.length, BLOCK_ELEMENTS));
    zeros += accumulatePairs(bytesToFloatsInto(bytes, DataType.FLOAT16, scratch), r0 + r, rows - r, d1, perGroup, s);
  }
  return zeros;
}

/**
 * Rows per kernel call: all of `part` when it already lies in the kernel's
 * memory (read there by statsJob.ts), else blocks of about KERNEL_BLOCK_BYTES
 * copied in, in whole groups of four rows so the sums add up in the same order
 * however the rows arrive.
 */
function kernelBlockRows(part: Uint8Array, kernel: HalfKernel, rowLen: number): number {
  if (kernel.holds(part)) return Infinity;
  const rows = Math.max(1, Math.floor(KERNEL_BLOCK_BYTES / (2 * rowLen)));
  return rows >= 4 ? rows - (rows % 4) : rows;
}

/** L2 norms from sums of squares. (A loop: Array.from with a map function is ten times slower.) */
export function sqrtAll(a: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) out.push(Math.sqrt(a[i]));
  return out;
}

/** The values as a plain array (a loop: three times faster than Array.from). */
export function toArray(a: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) out.push(a[i]);
  return out;
}

/** Each value divided by the mean (1.0 = an average channel). */
export function meanNormalized(v: number[]): number[] {
  const mean = v.reduce((a, b) => a + b, 0) / (v.length || 1);
  return v.map((x) => (mean > 0 ? x / mean : 0));
}
