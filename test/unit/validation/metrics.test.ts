import { strict as assert } from 'node:assert';
import { ComparisonAccumulator, absDiff, argmaxRows, cosineRows, countEqual, latencyStats, percentile } from '../../../src/validation/metrics';

describe('validation metrics', () => {
  it('argmax per row takes the first of equal maxima', () => {
    assert.deepEqual([...argmaxRows([0, 3, 1, 5, 5, -1], 2)], [1, 0]);
    assert.deepEqual([...argmaxRows([-3, -1, -2], 1)], [1]);
  });

  it('absolute differences: max, sum and count', () => {
    assert.deepEqual(absDiff([1, 2, 3], [1.5, 2, 1]), { max: 2, sum: 2.5, count: 3 });
    assert.ok(Number.isNaN(absDiff([1, NaN], [1, 2]).max), 'a NaN output must not hide behind a max of 0');
  });

  it('cosine per row: parallel, orthogonal, opposite, and zero rows', () => {
    const c = cosineRows([1, 2, 1, 0, 1, 1, 0, 0, 0, 0], [2, 4, 0, 1, -1, -1, 0, 0, 3, 4], 5);
    assert.deepEqual([...c].map((v) => Math.round(v * 1e12) / 1e12), [1, 0, -1, 1, 0]);
  });

  it('percentiles interpolate between ranks like numpy.percentile', () => {
    const v = [15, 20, 35, 40, 50];
    assert.equal(percentile(v, 50), 35);
    assert.equal(percentile(v, 95), 48); // rank 3.8: 40 + 0.8 * 10
    assert.equal(percentile([3, 1, 2, 4], 50), 2.5);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('latency stats: throughput is timed samples over summed time', () => {
    const s = latencyStats([10, 20, 30, 40], 128);
    assert.equal(s.p50, 25);
    assert.equal(s.mean, 25);
    assert.equal(s.throughput, 128 / 0.1);
  });

  it('the accumulator over batches equals the metrics over all samples at once', () => {
    const original = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4];
    const pruned = [0.2, 0.8, 0.4, 0.6, 0.1, 0.9, 0.7, 0.3];
    const labels = [1, 0, 0, 0];
    const acc = new ComparisonAccumulator();
    acc.add(original.slice(0, 4), pruned.slice(0, 4), 2, labels.slice(0, 2));
    acc.add(original.slice(4), pruned.slice(4), 2, labels.slice(2));
    const r = acc.result();
    // top-1 original: 1,0,1,0  pruned: 1,1,1,0  labels: 1,0,0,0
    assert.equal(r.samples, 4);
    assert.equal(r.agreement, 3 / 4);
    assert.equal(r.originalAccuracy, 3 / 4);
    assert.equal(r.prunedAccuracy, 2 / 4);
    const whole = absDiff(original, pruned);
    assert.equal(r.maxAbsDiff, whole.max);
    assert.ok(Math.abs(r.meanAbsDiff - whole.sum / 8) < 1e-15);
    const cos = [...cosineRows(original, pruned, 4)].reduce((a, b) => a + b) / 4;
    assert.ok(Math.abs(r.cosine - cos) < 1e-15);
    assert.equal(countEqual([1, 2], [1, 3]), 1);
  });

  it('without labels there is no accuracy', () => {
    const acc = new ComparisonAccumulator();
    acc.add([1, 0], [1, 0], 1);
    assert.equal(acc.result().originalAccuracy, undefined);
    assert.equal(acc.result().agreement, 1);
  });
});
