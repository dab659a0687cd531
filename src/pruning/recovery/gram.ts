// Where the Gram matrix XᵀX and the cross term XᵀY of each chunk are
// computed. The default is the JavaScript loop in NormalEquations (float64
// throughout, skipping zero features, which ReLU makes common). A runtime
// may supply a faster one (src/validation/gram.ts runs the products in
// onnxruntime, multi-threaded); it returns float32 products per chunk, which
// are summed in float64.

import type { NormalEquations } from './ridge';

export interface GramBackend {
  readonly name: string;
  /** Adds `rows` rows of features (rows × eq.d) and targets (rows × eq.m) to `eq`. */
  accumulate(eq: NormalEquations, features: Float32Array, targets: Float32Array, rows: number): Promise<void>;
  release?(): Promise<void>;
}

export const jsGram: GramBackend = {
  name: 'js',
  async accumulate(eq, features, targets, rows) {
    eq.add(features, targets, rows);
  },
};
