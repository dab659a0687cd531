// Ridge least squares in float64: accumulate the normal equations over
// streamed batches (Gram matrix XᵀX and cross term XᵀY), then solve
// (XᵀX + λ·diag) W = XᵀY by Cholesky. Memory is D² + D·M doubles, whatever
// the number of calibration samples.

import { PruneLensError } from '../../onnx/errors';

export class NormalEquations {
  /** XᵀX, D×D, row-major (only the lower triangle is accumulated, then mirrored). */
  readonly gram: Float64Array;
  /** XᵀY, D×M, row-major. */
  readonly cross: Float64Array;
  rows = 0;

  constructor(readonly d: number, readonly m: number) {
    this.gram = new Float64Array(d * d);
    this.cross = new Float64Array(d * m);
  }

  /** Adds n samples: x is n×D, y is n×M, both row-major. */
  add(x: Float32Array | Float64Array, y: Float32Array | Float64Array, n: number): void {
    const { d, m, gram, cross } = this;
    for (let r = 0; r < n; r++) {
      const xo = r * d;
      const yo = r * m;
      for (let i = 0; i < d; i++) {
        const xi = x[xo + i];
        if (xi === 0) continue;
        const gi = i * d;
        for (let j = 0; j <= i; j++) gram[gi + j] += xi * x[xo + j];
        const ci = i * m;
        for (let k = 0; k < m; k++) cross[ci + k] += xi * y[yo + k];
      }
    }
    this.rows += n;
  }

  /** Adds a precomputed Gram and cross term (e.g. from a matrix product run elsewhere). */
  addProducts(gram: ArrayLike<number>, cross: ArrayLike<number>, n: number): void {
    const { d } = this;
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) this.gram[i * d + j] += gram[i * d + j];
    for (let i = 0; i < this.cross.length; i++) this.cross[i] += cross[i];
    this.rows += n;
  }

  /**
   * Solves for W (D×M). λ is relative: it is scaled by the mean diagonal of XᵀX
   * so one setting suits layers of any size. Columns listed in `unpenalized`
   * (the bias feature) get no penalty, and do not count in that mean either:
   * the bias column's diagonal is the row count, which can be a hundred times
   * the features' own (activations of a slimmed network have E[x²] ≈ 3e-4),
   * and would silently make λ that much stronger.
   */
  solve(lambda: number, unpenalized: number[] = []): Float64Array {
    return this.factor(lambda, unpenalized)(this.cross);
  }

  /** Factors XᵀX + λ·diag once; the result solves for any cross term (the same inputs against other targets). */
  factor(lambda: number, unpenalized: number[] = []): (cross: Float64Array) => Float64Array {
    const { d, m } = this;
    const a = new Float64Array(d * d);
    const free = new Set(unpenalized);
    let trace = 0;
    for (let i = 0; i < d; i++) if (!free.has(i)) trace += this.gram[i * d + i];
    const reg = lambda * (trace / Math.max(1, d - free.size)) + 1e-12;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const v = this.gram[i * d + j];
        a[i * d + j] = v;
        a[j * d + i] = v;
      }
      if (!free.has(i)) a[i * d + i] += reg;
      else a[i * d + i] += 1e-9 * reg;
    }
    cholesky(a, d);
    return (cross) => {
      const w = new Float64Array(cross);
      solveCholesky(a, d, w, m);
      return w;
    };
  }
}

/** In-place lower Cholesky factor of a symmetric positive definite D×D matrix. */
export function cholesky(a: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) throw new PruneLensError('internal', 'reconstruction: the calibration data do not determine this layer (matrix not positive definite); use more calibration samples or a larger ridge');
    const l = Math.sqrt(s);
    a[rj + j] = l;
    for (let i = j + 1; i < d; i++) {
      const ri = i * d;
      let t = a[ri + j];
      for (let k = 0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / l;
    }
  }
}

/** Solves L Lᵀ X = B in place (B is D×M row-major). */
export function solveCholesky(l: Float64Array, d: number, b: Float64Array, m: number): void {
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let k = 0; k < i; k++) {
      const lik = l[ri + k];
      if (lik === 0) continue;
      for (let c = 0; c < m; c++) b[i * m + c] -= lik * b[k * m + c];
    }
    const inv = 1 / l[ri + i];
    for (let c = 0; c < m; c++) b[i * m + c] *= inv;
  }
  for (let i = d - 1; i >= 0; i--) {
    for (let k = i + 1; k < d; k++) {
      const lki = l[k * d + i];
      if (lki === 0) continue;
      for (let c = 0; c < m; c++) b[i * m + c] -= lki * b[k * m + c];
    }
    const inv = 1 / l[i * d + i];
    for (let c = 0; c < m; c++) b[i * m + c] *= inv;
  }
}
