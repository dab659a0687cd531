// SparseGPT (Frantar & Alistarh, 2023): prune a dense layer's weights and
// update the ones left so that the layer's output on the calibration data
// changes as little as possible. The layer Hessian H = 2XᵀX comes from the
// calibration inputs; columns (inputs) are visited in order, in blocks of 32,
// and the error of each pruned column is spread over the later columns with
// the rows of the upper Cholesky factor of H⁻¹ (the OBS update). Everything
// is float64, as the reference accumulates its updates.
//
// Weights here are [in, out], row-major, the way ONNX MatMul stores them: a
// torch "column" (one input) is one contiguous row, and a torch "output row"
// is a column. The mask within a block is chosen from w² / [H⁻¹]ᵢᵢ² over the
// whole block (a sparsity fraction), or per run of M inputs of each output as
// the sweep reaches it (N:M), as the reference code does.

import { PruneLensError } from '../../onnx/errors';
import { entriesToPrune } from './amount';
import { cholesky } from '../recovery/ridge';

/** How much to prune: a fraction of each block's unpruned weights, or keep N of every M inputs of each output. */
export type SparsityTarget = { fraction: number } | { n: number; m: number };

export interface SparseGptOptions {
  /** Columns per lazy-update block (default 32, rounded up to a multiple of M). */
  blockSize?: number;
  /** Added to H's diagonal, relative to its mean (default 0.01). */
  dampening?: number;
  /**
   * Awaited between column blocks and along the inverse: a large layer takes a
   * while, and this lets the caller's events (a cancel) in. It may throw to stop.
   */
  pause?: () => Promise<void>;
}

export const SPARSEGPT_BLOCK = 32;
export const SPARSEGPT_DAMPENING = 0.01;

/**
 * Prunes `w` ([rows = inputs] × [cols = outputs], row-major, float64) in place
 * with the Hessian `hessian` (rows × rows, symmetric, full). Weights that are
 * zero on entry stay zero (earlier prunes are kept). Returns the mask (1 = pruned).
 */
export async function sparseGpt(w: Float64Array, rows: number, cols: number, hessian: Float64Array, target: SparsityTarget,
  options: SparseGptOptions = {}): Promise<Uint8Array> {
  const pause = options.pause ?? (async () => undefined);
  if (w.length !== rows * cols || hessian.length !== rows * rows) throw new PruneLensError('internal', 'sparseGpt: sizes do not match');
  const nm = 'm' in target ? target : undefined;
  if (nm && rows % nm.m !== 0) throw new PruneLensError('internal', `sparseGpt: ${rows} inputs are not a multiple of M=${nm.m}`);
  const step = options.blockSize ?? SPARSEGPT_BLOCK;
  const block = nm ? Math.ceil(step / nm.m) * nm.m : step;
  const pruned = new Uint8Array(rows * cols);
  for (let i = 0; i < w.length; i++) if (w[i] === 0) pruned[i] = 1;
  const u = await inverseCholeskyUpper(hessian, rows, w, cols, options.dampening ?? SPARSEGPT_DAMPENING, pause);

  const err = new Float64Array(block * cols);
  for (let i1 = 0; i1 < rows; i1 += block) {
    await pause();
    const i2 = Math.min(i1 + block, rows);
    if (!nm) chooseBlockMask(w, u, rows, cols, i1, i2, pruned, (target as { fraction: number }).fraction);
    for (let i = i1; i < i2; i++) {
      if (nm && (i - i1) % nm.m === 0) chooseNM(w, u, rows, cols, i, nm.n, nm.m, pruned);
      const d = u[i * rows + i];
      const e = err.subarray((i - i1) * cols, (i - i1 + 1) * cols);
      const wi = i * cols;
      for (let o = 0; o < cols; o++) {
        const q = pruned[wi + o] ? 0 : w[wi + o];
        e[o] = (w[wi + o] - q) / d;
        w[wi + o] = q;
      }
      // Within the block, at once: later columns absorb this column's error.
      for (let j = i + 1; j < i2; j++) axpy(w, j * cols, -u[i * rows + j], e, cols);
    }
    // The columns after the block, lazily: all of its errors in one pass.
    for (let j = i2; j < rows; j++) {
      for (let i = i1; i < i2; i++) {
        const f = u[i * rows + j];
        if (f !== 0) axpy(w, j * cols, -f, err.subarray((i - i1) * cols, (i - i1 + 1) * cols), cols);
      }
    }
  }
  return pruned;
}

function axpy(w: Float64Array, at: number, a: number, x: Float64Array, n: number): void {
  for (let o = 0; o < n; o++) w[at + o] += a * x[o];
}

/**
 * The upper Cholesky factor U of (H + λI)⁻¹ (H⁻¹ = UᵀU), row-major, with
 * λ = dampening × mean diag(H). Inputs never seen (a zero diagonal) get 1 on
 * the diagonal, and their weights are zeroed, as in the reference.
 *
 * Without forming H⁻¹: with J the order reversal, J H J = L Lᵀ gives
 * H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J), and J L⁻¹ J is upper triangular: U = J L⁻¹ J.
 * One Cholesky and one triangular inverse, d³/3 in all.
 */
async function inverseCholeskyUpper(hessian: Float64Array, d: number, w: Float64Array, cols: number, dampening: number,
  pause: () => Promise<void>): Promise<Float64Array> {
  let trace = 0;
  for (let i = 0; i < d; i++) {
    if (hessian[i * d + i] === 0) w.fill(0, i * cols, (i + 1) * cols);
    trace += hessian[i * d + i] === 0 ? 1 : hessian[i * d + i];
  }
  const damp = dampening * (trace / d);
  // J H J, damped: element (i, j) is H(d-1-i, d-1-j).
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const hi = (d - 1 - i) * d + (d - 1);
    for (let j = 0; j <= i; j++) l[i * d + j] = hessian[hi - j];
    const diag = l[i * d + i];
    l[i * d + i] = (diag === 0 ? 1 : diag) + damp;
  }
  factor(l, d);
  await pause();
  const x = await lowerInverse(l, d, pause);
  // U = J X J: U(i, j) = X(d-1-i, d-1-j), upper triangular.
  const u = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const xi = (d - 1 - i) * d + (d - 1);
    for (let j = i; j < d; j++) u[i * d + j] = x[xi - j];
  }
  return u;
}

/** X = L⁻¹ of a lower triangular L, row by row: X[r][c] = -(Σₖ L[r][k] X[k][c]) / L[r][r] for c < r. */
async function lowerInverse(l: Float64Array, d: number, pause: () => Promise<void>): Promise<Float64Array> {
  const x = new Float64Array(d * d);
  for (let r = 0; r < d; r++) {
    if (r % 256 === 255) await pause();
    const xr = r * d;
    for (let k = 0; k < r; k++) {
      const a = l[xr + k];
      if (a !== 0) rowAxpy(x, xr, a, k * d, k + 1);
    }
    const inv = 1 / l[xr + r];
    for (let c = 0; c < r; c++) x[xr + c] *= -inv;
    x[xr + r] = inv;
  }
  return x;
}

/** x[to + c] += a · x[from + c] for c < n. */
function rowAxpy(x: Float64Array, to: number, a: number, from: number, n: number): void {
  for (let c = 0; c < n; c++) x[to + c] += a * x[from + c];
}

function factor(a: Float64Array, d: number): void {
  try {
    cholesky(a, d);
  } catch {
    throw new PruneLensError('unsupported', 'sparsegpt: the layer Hessian from the calibration data is not positive definite even with dampening; use more calibration samples');
  }
}

/** Fraction: within columns i1..i2 over all outputs, the lowest w²/Uᵢᵢ² among unpruned weights. */
function chooseBlockMask(w: Float64Array, u: Float64Array, rows: number, cols: number, i1: number, i2: number,
  pruned: Uint8Array, fraction: number): void {
  const scores: number[] = [];
  const at: number[] = [];
  for (let i = i1; i < i2; i++) {
    const dii = u[i * rows + i] ** 2;
    for (let o = 0; o < cols; o++) {
      const k = i * cols + o;
      if (pruned[k]) continue;
      scores.push((w[k] * w[k]) / dii);
      at.push(k);
    }
  }
  const count = entriesToPrune({ fraction }, at.length, 'weights');
  const order = at.map((_, j) => j).sort((a, b) => scores[a] - scores[b] || at[a] - at[b]);
  for (let j = 0; j < count; j++) pruned[at[order[j]]] = 1;
}

/** N:M: in inputs i..i+M of each output, the M−N lowest w²/Uᵢᵢ² (earlier zeros first). */
function chooseNM(w: Float64Array, u: Float64Array, rows: number, cols: number, i: number, n: number, m: number, pruned: Uint8Array): void {
  const scores = new Float64Array(m);
  const order = Array.from({ length: m }, (_, j) => j);
  for (let o = 0; o < cols; o++) {
    for (let j = 0; j < m; j++) {
      const k = (i + j) * cols + o;
      scores[j] = pruned[k] ? -1 : (w[k] * w[k]) / u[(i + j) * rows + i + j] ** 2;
    }
    order.sort((a, b) => scores[a] - scores[b] || a - b);
    for (let j = 0; j < m - n; j++) pruned[(i + order[j]) * cols + o] = 1;
  }
}
