// Where SparseGPT's large float64 matrix products run. The default is a plain
// JavaScript loop; a runtime may supply a faster one (src/validation/gram.ts
// runs them as onnxruntime MatMul/Gemm sessions on double tensors, on every
// core, with MLAS kernels). Both compute in float64, so either gives the same
// result up to the order of additions.

export interface ProductBackend {
  readonly name: string;
  /** A·B (`transB`: A·Bᵀ), float64, row-major: A is m×k, B is k×n (n×k with transB). Returns m×n. */
  multiply(a: Float64Array, b: Float64Array, m: number, k: number, n: number, transB?: boolean): Promise<Float64Array>;
  /** C −= A·B in place (C is m×n): the update is applied where the product is computed, not in a JavaScript loop. */
  subtractProduct(c: Float64Array, a: Float64Array, b: Float64Array, m: number, k: number, n: number): Promise<void>;
  release?(): Promise<void>;
}

export const jsProducts: ProductBackend = {
  name: 'js',
  async multiply(a, b, m, k, n, transB = false) {
    const c = new Float64Array(m * n);
    if (transB) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
          c[i * n + j] = s;
        }
      }
      return c;
    }
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const f = a[i * k + p];
        if (f === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += f * b[bp + j];
      }
    }
    return c;
  },
  async subtractProduct(c, a, b, m, k, n) {
    const p = await jsProducts.multiply(a, b, m, k, n);
    for (let i = 0; i < p.length; i++) c[i] -= p[i];
  },
};
