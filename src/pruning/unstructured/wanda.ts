// Wanda (Sun et al., 2023): a weight's importance is |W|·‖X‖, its magnitude
// times the L2 norm of its input over the calibration tokens, and weights are
// compared within each output (a torch "output row"; for an ONNX MatMul
// weight [in, out], a column). N:M runs along the inputs of each output.

import type { SparsityTarget } from './sparsegpt';
import { entriesToPrune } from './amount';
import { nmElements, type WeightLayout } from './units';

/** |w|·‖x‖ for each weight of a 2-D layout, from the sum of squares of each input. */
export function wandaScores(values: Float32Array, layout: WeightLayout, inputSumSq: Float64Array): Float64Array {
  const [d0, d1] = layout.dims;
  const scores = new Float64Array(values.length);
  for (let r = 0; r < d0; r++) {
    for (let c = 0; c < d1; c++) {
      const k = r * d1 + c;
      scores[k] = Math.abs(values[k]) * Math.sqrt(inputSumSq[layout.inAxis === 0 ? r : c]);
    }
  }
  return scores;
}

/** The weights to zero (1 = prune): per output, the lowest scores among its unpruned weights; or N:M. */
export function wandaMask(values: Float32Array, layout: WeightLayout, inputSumSq: Float64Array, target: SparsityTarget): Uint8Array {
  const scores = wandaScores(values, layout, inputSumSq);
  if ('m' in target) return nmElements(scores, layout, target.n, target.m);
  const prune = new Uint8Array(values.length);
  const inputs = layout.dims[layout.inAxis];
  const outputs = layout.dims[layout.outAxis];
  const index = (o: number, i: number) => (layout.inAxis === 0 ? i * outputs + o : o * inputs + i);
  const alive: number[] = [];
  for (let o = 0; o < outputs; o++) {
    alive.length = 0;
    for (let i = 0; i < inputs; i++) if (values[index(o, i)] !== 0) alive.push(index(o, i));
    const count = entriesToPrune({ fraction: target.fraction }, alive.length, 'weights');
    alive.sort((a, b) => scores[a] - scores[b] || a - b);
    for (let j = 0; j < count; j++) prune[alive[j]] = 1;
  }
  return prune;
}
