// Per-channel statistics of a weight tensor in one pass: L1, L2 and exact zeros
// along its first two axes. The data is visited in blocks of whole rows, so an
// unaligned or non-fp32 tensor is converted a block at a time and memory stays
// flat however large the tensor is.

import { bytesToFloats, DataType, elementSize, tensorBytes, type ExternalReader } from '../onnx/tensor';
import type { TensorProto } from '../onnx/schema';

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

const BLOCK_ELEMENTS = 1 << 20;
let scratch = new Uint8Array(0);

/**
 * Statistics of a tensor seen as [d0, d1, inner]. `groups` splits axis 0 into
 * equal groups, each with its own d1 indices (grouped convolution weights).
 */
export function axisStats(t: TensorProto, dims: number[], groups: number, external?: ExternalReader): AxisStats {
  const acc = new AxisAccumulator(tensorBytes(t, external), dims, groups, t.data_type ?? DataType.FLOAT, t.name);
  acc.feed(Infinity);
  return acc.stats;
}

/**
 * Accumulates AxisStats row by row as the tensor's bytes become available, so
 * analysis can run while the file is still being read.
 */
export class AxisAccumulator {
  readonly stats: AxisStats;
  private row = 0;
  private readonly d0: number;
  private readonly d1: number;
  private readonly inner: number;
  private readonly perGroup: number;
  private readonly esize: number;
  private readonly all?: Float32Array;

  constructor(private readonly bytes: Uint8Array, readonly dims: number[], groups: number, private readonly dt: number, private readonly name?: string) {
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
    if (dt === DataType.FLOAT && bytes.byteOffset % 4 === 0) this.all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }

  get done(): boolean {
    return this.row >= this.d0 || this.d1 * this.inner === 0;
  }

  /** Processes every complete row within the first `available` bytes of the tensor's data. */
  feed(available: number): void {
    const rowLen = this.d1 * this.inner;
    if (this.done) return;
    const rowBytes = rowLen * this.esize;
    const ready = Math.min(this.d0, Math.floor(Math.min(available, this.bytes.length) / rowBytes));
    const rowsPerBlock = Math.max(1, Math.floor(BLOCK_ELEMENTS / rowLen));
    while (this.row < ready) {
      const r0 = this.row;
      const rows = Math.min(rowsPerBlock, ready - r0);
      const block = this.block(r0, rows, rowLen);
      this.stats.zeros += this.inner === 1
        ? accumulatePairs(block, r0, rows, this.d1, this.perGroup, this.stats)
        : accumulate(block, r0, rows, this.d1, this.inner, this.perGroup, this.stats);
      this.row += rows;
    }
  }

  private block(r0: number, rows: number, rowLen: number): Float32Array {
    if (this.all) return this.all.subarray(r0 * rowLen, (r0 + rows) * rowLen);
    const part = this.bytes.subarray(r0 * rowLen * this.esize, (r0 + rows) * rowLen * this.esize);
    if (this.dt !== DataType.FLOAT) return bytesToFloats(part, this.dt, this.name);
    // Unaligned fp32: copy into the aligned scratch block and view it. One scratch for
    // all accumulators: they run one at a time, and a model has hundreds of them.
    if (scratch.length < part.length) scratch = new Uint8Array(part.length);
    scratch.set(part);
    return new Float32Array(scratch.buffer, 0, part.length / 4);
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

/** L2 norms from sums of squares. */
export function sqrtAll(a: Float64Array): number[] {
  return Array.from(a, Math.sqrt);
}

/** Each value divided by the mean (1.0 = an average channel). */
export function meanNormalized(v: number[]): number[] {
  const mean = v.reduce((a, b) => a + b, 0) / (v.length || 1);
  return v.map((x) => (mean > 0 ? x / mean : 0));
}
