// torch's amount rules: round(amount * n) with Python's round-half-to-even,
// integer counts as-is, out-of-range amounts refused.

import { strict as assert } from 'node:assert';
import { entriesToPrune, roundHalfEven } from '../../../../src/pruning/unstructured';

describe('unstructured: amounts as torch computes them', () => {
  it('rounds halves to the even neighbour, like Python', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 3903.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3, 3904]);
  });

  it('fraction: round(amount * n), in float64 like Python', () => {
    assert.equal(entriesToPrune({ fraction: 0.2 }, 19518), 3904); // 3903.6
    assert.equal(entriesToPrune({ fraction: 0.5 }, 27), 14); // 13.5 → 14 (even)
    assert.equal(entriesToPrune({ fraction: 0.5 }, 13), 6); // 6.5 → 6 (even)
    assert.equal(entriesToPrune({ fraction: 0.3 }, 10), 3); // 0.3 * 10 = 3.0000000000000004
    assert.equal(entriesToPrune({ fraction: 1 }, 54), 54);
    assert.equal(entriesToPrune({ fraction: 0 }, 54), 0);
  });

  it('count: as given, refused when larger than the candidates or not a whole number', () => {
    assert.equal(entriesToPrune({ count: 54 }, 54), 54);
    assert.throws(() => entriesToPrune({ count: 55 }, 54), /count 55 is more than the 54 unpruned/);
    assert.throws(() => entriesToPrune({ count: 1.5 }, 54), /not a non-negative integer/);
    assert.throws(() => entriesToPrune({ count: -1 }, 54), /not a non-negative integer/);
  });

  it('fraction outside [0, 1] is refused', () => {
    assert.throws(() => entriesToPrune({ fraction: 1.2 }, 10), /amount 1.2 is not a fraction in \[0, 1\]/);
    assert.throws(() => entriesToPrune({ fraction: Number.NaN }, 10), /not a fraction/);
  });
});
