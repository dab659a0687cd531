import { strict as assert } from 'node:assert';
import { formatBytes, formatCosine, formatCount, formatPercent, formatScore } from '../../../webview/format';
import { linearScale, niceTicks } from '../../../webview/scale';
import { formatChange } from '../../../src/pruning/outcome';

describe('webview formatting and scales', () => {
  it('formats counts with three significant digits and SI suffixes', () => {
    assert.equal(formatCount(82666), '82.7K');
    assert.equal(formatCount(11_689_512), '11.7M');
    assert.equal(formatCount(999_600), '1M');
    assert.equal(formatCount(640), '640');
    assert.equal(formatCount(1.82e9), '1.82G');
  });

  it('formats bytes, percents and scores', () => {
    assert.equal(formatBytes(335561), '328 KiB');
    assert.equal(formatBytes(46747670), '44.6 MiB');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatPercent(0.4712), '47.1%');
    assert.equal(formatScore(4.77e-9), '4.77e-9');
    assert.equal(formatScore(12.2893), '12.29');
    assert.equal(formatScore(NaN), '—');
    assert.equal(formatCosine(0.9999999), '1 − 1.0e-7'); // not a rounded "1"
    assert.equal(formatCosine(0.93), '0.93');
    assert.equal(formatCosine(1), '1');
  });

  it('formats changes so that a small or a near-total one never reads as 0% or 100%', () => {
    assert.equal(formatChange(256, 255), '−0.4%');
    assert.equal(formatChange(256, 1), '−99.6%');
    assert.equal(formatChange(100, 70), '−30%');
    assert.equal(formatChange(100, 0), '−100%');
    assert.equal(formatChange(100, 130), '+30%');
    assert.equal(formatChange(1000, 999.96), '−0.004%');
    assert.equal(formatChange(7, 7), '0%');
    assert.equal(formatChange(0, 5), '—');
  });

  it('picks round ticks that cover the domain', () => {
    assert.deepEqual(niceTicks(0, 1, 10), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    assert.deepEqual(niceTicks(0.83, 0.997, 5), [0.8, 0.85, 0.9, 0.95, 1]); // step 0.05: the first of 1, 2, 5 × 0.01 above 0.167 / 5
    assert.deepEqual(niceTicks(0, 7, 4), [0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(3, 3), [3]);
  });

  it('maps linearly and survives a degenerate domain', () => {
    const x = linearScale(0, 10, 100, 200);
    assert.equal(x(5), 150);
    assert.equal(linearScale(1, 1, 0, 10)(1), 5);
  });
});
