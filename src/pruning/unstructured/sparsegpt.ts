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
import { jsProducts, type ProductBackend } from '../recovery/products';
import { entriesToPrune } from './amount';
import { inverseCholeskyUpper } from './inverseFactor';

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
  /** Where the O(d³) products run (default: JavaScript loops). */
  products?: ProductBackend;
  /** When given, milliseconds are added per step: `inverse` (U of H⁻¹), `sweep` (masks and updates in JS), `updates` (the products). */
  timings?: Record<string, number>;
}

export const SPARSEGPT_BLOCK = 32;
/**
 * Columns whose errors are gathered before they update all the later columns
 * in one product; within such a span the 32-column blocks update each other
 * in JavaScript. Both are the reference's lazy batch updates, nested.
 */
export const SPARSEGPT_SPAN = 128;
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
  const products = options.products ?? jsProducts;
  const clock = stopwatch(options.timings);
  const u = await inverseCholeskyUpper(hessian, rows, w, cols, options.dampening ?? SPARSEGPT_DAMPENING, products, pause);
  clock('inverse');

  const span = Math.ceil(SPARSEGPT_SPAN / block) * block;
  const err = new Float64Array(span * cols);
  for (let s1 = 0; s1 < rows; s1 += span) {
    const s2 = Math.min(s1 + span, rows);
    for (let i1 = s1; i1 < s2; i1 += block) {
      await pause();
      const i2 = Math.min(i1 + block, s2);
      if (!nm) chooseBlockMask(w, u, rows, cols, i1, i2, pruned, (target as { fraction: number }).fraction);
      for (let i = i1; i < i2; i++) {
        if (nm && (i - i1) % nm.m === 0) chooseNM(w, u, rows, cols, i, nm.n, nm.m, pruned);
        const d = u[i * rows + i];
        const e = err.subarray((i - s1) * cols, (i - s1 + 1) * cols);
        const wi = i * cols;
        for (let o = 0; o < cols; o++) {
          const q = pruned[wi + o] ? 0 : w[wi + o];
          e[o] = (w[wi + o] - q) / d;
          w[wi + o] = q;
        }
        // Within the block, at once: later columns absorb this column's error.
        for (let j = i + 1; j < i2; j++) axpy(w, j * cols, -u[i * rows + j], e, cols);
      }
      // The columns after the block, up to the span's end, lazily: all of its errors in one pass.
      for (let j = i2; j < s2; j++) {
        for (let i = i1; i < i2; i++) {
          const f = u[i * rows + j];
          if (f !== 0) axpy(w, j * cols, -f, err.subarray((i - s1) * cols, (i - s1 + 1) * cols), cols);
        }
      }
    }
    clock('sweep');
    // The columns after the span: W[s2:] −= U[s1:s2, s2:]ᵀ · Err, one product.
    if (s2 < rows) {
      const later = rows - s2;
      const n = s2 - s1;
      const ut = new Float64Array(later * n);
      for (let i = s1; i < s2; i++) for (let j = s2; j < rows; j++) ut[(j - s2) * n + (i - s1)] = u[i * rows + j];
      await products.subtractProduct(w.subarray(s2 * cols), ut, err.subarray(0, n * cols), later, n, cols);
      clock('updates');
    }
  }
  return pruned;
}

/** A function that adds the milliseconds since its last call to `timings[step]`. */
function stopwatch(timings?: Record<string, number>): (step: string) => void {
  let last = performance.now();
  return (step) => {
    if (!timings) return;
    const now = performance.now();
    timings[step] = (timings[step] ?? 0) + (now - last);
    last = now;
  };
}

function axpy(w: Float64Array, at: number, a: number, x: Float64Array, n: number): void {
  for (let o = 0; o < n; o++) w[at + o] += a * x[o];
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
  const taken = new Uint8Array(m);
  for (let o = 0; o < cols; o++) {
    for (let j = 0; j < m; j++) {
      const k = (i + j) * cols + o;
      scores[j] = pruned[k] ? -1 : (w[k] * w[k]) / u[(i + j) * rows + i + j] ** 2;
    }
    // The M−N lowest, the earlier input first on a tie: picked one at a time (M is small; this runs rows/M × cols times).
    taken.fill(0);
    for (let r = 0; r < m - n; r++) {
      let best = -1;
      for (let j = 0; j < m; j++) if (!taken[j] && (best < 0 || scores[j] < scores[best])) best = j;
      taken[best] = 1;
      pruned[(i + best) * cols + o] = 1;
    }
  }
}
