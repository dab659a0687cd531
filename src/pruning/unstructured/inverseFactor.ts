// The upper Cholesky factor U of (H + λI)⁻¹ (H⁻¹ = UᵀU) that SparseGPT
// sweeps with: its diagonal scores the weights, its rows spread each pruned
// column's error over the later ones.
//
// Without forming H⁻¹: with J the order reversal, J H J = L Lᵀ gives
// H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J), and J L⁻¹ J is upper triangular: U = J L⁻¹ J.
// L and L⁻¹ come together from one recursion on halves,
//   [A11 ·; A21 A22] = L Lᵀ:  L11 = chol(A11),  L21 = A21 L11⁻ᵀ,
//   L22 = chol(A22 − L21 L21ᵀ),  (L⁻¹)21 = −L22⁻¹ L21 L11⁻¹,
// so that all the O(d³) work is six matrix products per level, which a
// ProductBackend runs where they are fast (onnxruntime); below LEAF rows the
// factor and its inverse are plain loops. Everything is float64.

import { PruneLensError } from '../../onnx/errors';
import type { ProductBackend } from '../recovery/products';
import { cholesky } from '../recovery/ridge';

/** At this size and below, the factor and its inverse are computed directly. */
const LEAF = 256;

/**
 * U of (H + λI)⁻¹, row-major d×d, with λ = dampening × mean diag(H). Inputs
 * never seen (a zero diagonal) get 1 on the diagonal, and their weights (rows
 * of `w`, `cols` wide) are zeroed, as in the reference.
 */
export async function inverseCholeskyUpper(hessian: Float64Array, d: number, w: Float64Array, cols: number, dampening: number,
  products: ProductBackend, pause: () => Promise<void>): Promise<Float64Array> {
  let trace = 0;
  for (let i = 0; i < d; i++) {
    if (hessian[i * d + i] === 0) w.fill(0, i * cols, (i + 1) * cols);
    trace += hessian[i * d + i] === 0 ? 1 : hessian[i * d + i];
  }
  const damp = dampening * (trace / d);
  // J H J, damped, lower triangle: element (i, j) is H(d-1-i, d-1-j).
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const hi = (d - 1 - i) * d + (d - 1);
    for (let j = 0; j <= i; j++) l[i * d + j] = hessian[hi - j];
    const diag = l[i * d + i];
    l[i * d + i] = (diag === 0 ? 1 : diag) + damp;
  }
  // U = J X J: U(i, j) = X(d-1-i, d-1-j), which is X's elements in reverse order (d² − 1 − (i·d + j)).
  return (await factorInverse(l, d, products, pause)).reverse();
}

/** L⁻¹ (lower, zero above the diagonal) of L Lᵀ = `a`, whose lower triangle is read (and overwritten). */
export async function factorInverse(a: Float64Array, n: number, products: ProductBackend, pause: () => Promise<void>): Promise<Float64Array> {
  if (n <= LEAF) {
    factor(a, n);
    return lowerInverse(a, n);
  }
  // A split at a multiple of 64 keeps the products' shapes friendly to the kernels.
  const h = Math.ceil(n / 128) * 64;
  const m = n - h;
  const a21 = block(a, n, h, 0, m, h);
  const a22 = block(a, n, h, h, m, m);
  const x11 = await factorInverse(block(a, n, 0, 0, h, h), h, products, pause);
  await pause();
  const l21 = await products.multiply(a21, x11, m, h, h, true);
  const g = await products.multiply(l21, l21, m, h, m, true);
  for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) a22[i * m + j] -= g[i * m + j];
  await pause();
  const x22 = await factorInverse(a22, m, products, pause);
  const x21 = await products.multiply(x22, await products.multiply(l21, x11, m, h, h), m, m, h);
  const x = new Float64Array(n * n);
  for (let i = 0; i < h; i++) x.set(x11.subarray(i * h, i * h + i + 1), i * n);
  for (let i = 0; i < m; i++) {
    const row = (h + i) * n;
    for (let j = 0; j < h; j++) x[row + j] = -x21[i * h + j];
    x.set(x22.subarray(i * m, i * m + i + 1), row + h);
  }
  return x;
}

/** Rows r0.., columns c0.. of a row-major n-wide matrix, rows × cols, as a new array. */
function block(a: Float64Array, n: number, r0: number, c0: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) out.set(a.subarray((r0 + i) * n + c0, (r0 + i) * n + c0 + cols), i * cols);
  return out;
}

/** X = L⁻¹ of a lower triangular L, row by row: X[r][c] = -(Σₖ L[r][k] X[k][c]) / L[r][r] for c < r. */
function lowerInverse(l: Float64Array, d: number): Float64Array {
  const x = new Float64Array(d * d);
  for (let r = 0; r < d; r++) {
    const xr = r * d;
    for (let k = 0; k < r; k++) {
      const a = l[xr + k];
      if (a === 0) continue;
      const xk = k * d;
      for (let c = 0; c <= k; c++) x[xr + c] += a * x[xk + c];
    }
    const inv = 1 / l[xr + r];
    for (let c = 0; c < r; c++) x[xr + c] *= -inv;
    x[xr + r] = inv;
  }
  return x;
}

function factor(a: Float64Array, d: number): void {
  try {
    cholesky(a, d);
  } catch {
    throw new PruneLensError('unsupported', 'sparsegpt: the layer Hessian from the calibration data is not positive definite even with dampening; use more calibration samples');
  }
}
