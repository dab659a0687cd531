// The ranking core: quickselect against a plain sort, ties broken by position,
// caps. Arrays come from the seeded generator, so failures reproduce.

import { strict as assert } from 'node:assert';
import { kthSmallest, selectLowest } from '../../../../src/pruning/unstructured/select';
import { mulberry32 } from '../../../../src/pruning/unstructured/random';

describe('unstructured: selecting the lowest scores', () => {
  it('kthSmallest agrees with a full sort, with and without many equal values', () => {
    const next = mulberry32(42);
    for (const [n, distinct] of [[1, 1], [2, 2], [1000, 1000], [1000, 3], [5000, 50]]) {
      const a = Float64Array.from({ length: n }, () => Math.floor(next() * distinct) / distinct);
      const sorted = Float64Array.from(a).sort();
      for (const k of [0, n >> 1, n - 1, Math.floor(next() * n)]) assert.equal(kthSmallest(Float64Array.from(a), k), sorted[k], `n=${n} k=${k}`);
    }
  });

  it('among equal scores, prunes the earlier tensor and lower index first', () => {
    const t = (scores: number[], alive = scores.map(() => 1)) => ({ scores: Float64Array.from(scores), alive: Uint8Array.from(alive) });
    const picks = selectLowest([t([0.5, 0.1, 0.5]), t([0.5, 0.2, 0.1], [1, 1, 0])], 4);
    assert.deepEqual(picks.map((p) => Array.from(p)), [[1, 1, 1], [0, 1, 0]]);
  });

  it('a capped tensor loses its cap; the rest of k goes to the others', () => {
    const a = { scores: Float64Array.from([1, 2, 3, 4]), alive: new Uint8Array(4).fill(1), cap: 1 };
    const b = { scores: Float64Array.from([5, 6, 7, 8]), alive: new Uint8Array(4).fill(1) };
    assert.deepEqual(selectLowest([a, b], 3).map((p) => Array.from(p)), [[1, 0, 0, 0], [1, 1, 0, 0]]);
  });
});
