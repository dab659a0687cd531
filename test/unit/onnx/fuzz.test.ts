// Fuzzing in the normal run: thousands of random and mutated models, seeded
// and deterministic. Every one must parse, or fail with a PruneLensError that
// names the file; parsed ones must analyse (or fail the same way) and
// round-trip losslessly. No hang, no crash, no absurd allocation.
// `npx tsx scripts/fuzz.ts --cases 100000 --seed 7` runs the same generator longer.

import { strict as assert } from 'node:assert';
import { formatStats, fuzz } from '../../helpers/fuzz';
import { tempDir } from '../../helpers/models';

const CASES = 4000;
const SEED = 20240;

describe('onnx fuzz', () => {
  it(`${CASES} random and mutated models: only PruneLensErrors, lossless when parsed`, function () {
    this.timeout(120_000);
    const stats = fuzz({ seed: SEED, cases: CASES, dir: tempDir('fuzz'), caseBudgetMs: 3000, rssBudget: 1024 * 2 ** 20 });
    console.log(`      ${formatStats(stats)}`);
    assert.equal(stats.cases, CASES);
    // The generator must reach both sides: models that parse (and analyse), and rejections.
    assert.ok(stats.parsed > CASES * 0.1, `only ${stats.parsed} cases parsed`);
    assert.ok(stats.analyzed > CASES * 0.05, `only ${stats.analyzed} cases analysed`);
    assert.ok(stats.rejected > CASES * 0.3, `only ${stats.rejected} cases rejected`);
    for (const code of ['truncated', 'malformed']) assert.ok(stats.codes[code] > 0, `no ${code} errors`);
  });
});
