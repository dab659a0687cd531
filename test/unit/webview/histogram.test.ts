import { strict as assert } from 'node:assert';
import { scanLayerTable } from '../../../scripts/webview-preview/onnx-scan';
import { binScores, defaultBinCount } from '../../../webview/histogram';
import { layerScores, planCut } from '../../../webview/threshold';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('webview histogram', () => {
  it('puts every value in exactly one bin, the maximum in the last', () => {
    const h = binScores([0, 0.1, 0.25, 0.5, 1], -Infinity, 4);
    assert.deepEqual(h.edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(h.kept, [2, 1, 1, 1]);
    assert.deepEqual(h.removed, [0, 0, 0, 0]);
  });

  it('splits bins into removed (<= threshold) and kept', () => {
    const h = binScores([0.1, 0.2, 0.3, 0.9], 0.2, 2);
    assert.deepEqual(h.removed, [2, 0]);
    assert.deepEqual(h.kept, [1, 1]);
  });

  it('stretches the domain to show a threshold beyond the data', () => {
    const h = binScores([1, 2, 3], 5, 5);
    assert.equal(h.edges[h.edges.length - 1], 5);
    assert.equal(sum(h.removed), 3);
  });

  it('draws all-zero scores in a non-degenerate domain', () => {
    const h = binScores([0, 0, 0], 0, 5);
    assert.equal(h.edges[0], 0);
    assert.ok(h.edges[5] > 0);
    assert.equal(h.removed[0], 3);
  });

  it('rejects non-finite scores and bad bin counts', () => {
    assert.throws(() => binScores([1, NaN], 0), RangeError);
    assert.throws(() => binScores([1], 0, 0), RangeError);
  });

  it('chooses about sqrt(n) bins, between 5 and 40', () => {
    assert.equal(defaultBinCount(16), 5);
    assert.equal(defaultBinCount(64), 8);
    assert.equal(defaultBinCount(512), 23);
    assert.equal(defaultBinCount(100000), 40);
  });

  it('agrees with the cut plan on every layer of digits_resnet_slim_s1e-2', () => {
    const table = scanLayerTable('../shared/models/digits_resnet_slim_s1e-2.onnx');
    const plan = planCut(table.layers, 'gamma', 0.5, 'global');
    assert.equal(plan.layers.size, 6); // six Conv-BN pairs; the fc has no BN
    for (const layer of table.layers) {
      const cut = plan.layers.get(layer.name);
      if (!cut) continue;
      const h = binScores(layerScores(layer, 'gamma')!, cut.threshold);
      assert.equal(sum(h.removed), cut.removed, layer.displayName);
      assert.equal(sum(h.removed) + sum(h.kept), layer.outChannels);
    }
  });
});
