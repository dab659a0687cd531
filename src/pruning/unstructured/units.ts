// The units a mask prunes, as a map from each weight element to its unit:
//   element  every weight on its own (torch l1_unstructured / random_unstructured)
//   filter   one output channel, all its weights (torch ln_structured dim=0)
//   channel  one input channel across every filter (torch ln_structured dim=1)
//   shape    one (input channel, kernel position) across every filter
//            (the "filter shape" group of Wen et al., 2016)
// Axes are the layer's own: a ConvTranspose or a MatMul keeps its output
// channels on weight axis 1, and the map follows that.

import { elementCount } from '../../onnx/tensor';

export type Granularity = 'element' | 'filter' | 'channel' | 'shape';
export const GRANULARITIES: readonly Granularity[] = ['element', 'filter', 'channel', 'shape'];

export interface WeightLayout {
  dims: readonly number[];
  outAxis: number;
  inAxis: number;
}

export interface UnitMap {
  units: number;
  /** Unit of each element; absent for 'element', where the unit is the element. */
  of?: Uint32Array;
}

export function unitMap(layout: WeightLayout, granularity: Granularity): UnitMap {
  const { dims } = layout;
  const n = elementCount(dims);
  if (granularity === 'element') return { units: n };
  const axis = granularity === 'channel' ? layout.inAxis : layout.outAxis;
  const size = dims[axis];
  const inner = elementCount(dims.slice(axis + 1));
  const of = new Uint32Array(n);
  if (granularity === 'shape') {
    // Drop the output-channel coordinate: what is left names the kernel position.
    for (let i = 0; i < n; i++) of[i] = Math.floor(i / (inner * size)) * inner + (i % inner);
    return { units: n / size || 0, of };
  }
  for (let i = 0; i < n; i++) of[i] = Math.floor(i / inner) % size;
  return { units: size, of };
}

/** A unit is alive while any of its elements is nonzero. */
export function aliveUnits(values: Float32Array, map: UnitMap): Uint8Array {
  const alive = new Uint8Array(map.units);
  if (!map.of) {
    for (let i = 0; i < values.length; i++) alive[i] = values[i] !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) alive[map.of[i]] = 1;
  }
  return alive;
}

/** L1 or L2 norm of each unit, accumulated in float64. NaN weights rank last (kept). */
export function unitNorms(values: Float32Array, map: UnitMap, norm: 'l1' | 'l2'): Float64Array {
  const out = new Float64Array(map.units);
  if (!map.of) {
    for (let i = 0; i < values.length; i++) out[i] = Math.abs(values[i]);
  } else if (norm === 'l1') {
    for (let i = 0; i < values.length; i++) out[map.of[i]] += Math.abs(values[i]);
  } else {
    for (let i = 0; i < values.length; i++) out[map.of[i]] += values[i] * values[i];
  }
  if (map.of && norm === 'l2') for (let u = 0; u < out.length; u++) out[u] = Math.sqrt(out[u]);
  for (let u = 0; u < out.length; u++) if (Number.isNaN(out[u])) out[u] = Infinity;
  return out;
}

/** Element flags (1 = zero it) from unit flags. */
export function unitsToElements(prunedUnits: Uint8Array, map: UnitMap, n: number): Uint8Array {
  if (!map.of) return prunedUnits;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = prunedUnits[map.of[i]];
  return out;
}

/**
 * N:M sparsity along the input dimension: in every run of M consecutive input
 * channels (at one output channel and one kernel position) the M-N entries
 * with the lowest score are zeroed, leaving at most N nonzeros. Ties go to
 * the lower input index. The input-channel count must be a multiple of M.
 */
export function nmElements(scores: Float64Array, layout: WeightLayout, n: number, m: number): Uint8Array {
  const { dims, inAxis } = layout;
  const size = dims[inAxis];
  const inner = elementCount(dims.slice(inAxis + 1));
  const outer = elementCount(dims.slice(0, inAxis));
  const out = new Uint8Array(scores.length);
  const order = new Int32Array(m);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < inner; r++) {
      for (let g = 0; g < size; g += m) {
        // Insertion sort of M indices by (score, index): M is small (4, 8, 16).
        for (let j = 0; j < m; j++) {
          const idx = (o * size + g + j) * inner + r;
          const s = scores[idx];
          let q = j;
          while (q > 0 && scores[order[q - 1]] > s) {
            order[q] = order[q - 1];
            q--;
          }
          order[q] = idx;
        }
        for (let j = 0; j < m - n; j++) out[order[j]] = 1;
      }
    }
  }
  return out;
}
