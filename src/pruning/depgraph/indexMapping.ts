// Index mapping: how the positions of one axis map onto channel units when an
// op repeats, flattens or groups them (Torch-Pruning's index_mapping.py).
// Pure functions of label arrays; the channel rules call them.

import type { RuleContext } from './context';
import { checkPositions } from './limits';

/** Ties position k of every group of `size` positions together (grouped conv, per group). */
export function tieGroups(ctx: RuleContext, labels: Int32Array, groups: number): void {
  const size = labels.length / groups;
  for (let g = 1; g < groups; g++) ctx.union(labels.subarray(0, size), labels.subarray(g * size, (g + 1) * size));
}

/** Output position j of a depthwise op with multiplier m comes from input channel floor(j / m). */
export function repeatEach(labels: Int32Array, m: number): Int32Array {
  checkPositions(labels.length * m, `a depthwise output of ${labels.length} channels × ${m}`);
  const out = new Int32Array(labels.length * m);
  for (let j = 0; j < out.length; j++) out[j] = labels[Math.floor(j / m)];
  return out;
}

/** Position p of the flattened axis belongs to channel floor(p / inner) mod C. */
export function expand(labels: Int32Array, inner: number, total: number): Int32Array {
  checkPositions(total, `a flattened axis of ${labels.length} channels × ${inner}`);
  const out = new Int32Array(total);
  const c = labels.length;
  for (let p = 0; p < total; p++) out[p] = labels[Math.floor(p / inner) % c];
  return out;
}

/**
 * Labels of a block of consecutive axes (row-major, sizes `sizes`) after a
 * Transpose that puts old block axis order[i] at new block axis i.
 */
export function permuteBlock(labels: Int32Array, sizes: number[], order: number[]): Int32Array {
  const k = sizes.length;
  const oldStride = new Array<number>(k);
  for (let i = k - 1, s = 1; i >= 0; i--) {
    oldStride[i] = s;
    s *= sizes[i];
  }
  const newSizes = order.map((o) => sizes[o]);
  const out = new Int32Array(labels.length);
  const idx = new Array<number>(k).fill(0);
  for (let p = 0; p < out.length; p++) {
    let src = 0;
    for (let i = 0; i < k; i++) src += idx[i] * oldStride[order[i]];
    out[p] = labels[src];
    for (let i = k - 1; i >= 0; i--) {
      if (++idx[i] < newSizes[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}
