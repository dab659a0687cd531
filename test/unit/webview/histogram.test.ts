import { strict as assert } from 'node:assert';
import { analyzeFile } from '../../../src/analysis';
import { binScores, defaultBinCount, preferredScale } from '../../../webview/histogram';
import { layerScores, planCut } from '../../../webview/threshold';
import { modelPath } from '../../helpers/models';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('webview histogram', () => {
  it('puts every value in exactly one bin, the maximum in the last', () => {
    const h = binScores([0, 0.1, 0.25, 0.5, 1], { bins: 4 });
    assert.deepEqual(h.edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(h.kept, [2, 1, 1, 1]);
    assert.deepEqual(h.removed, [0, 0, 0, 0]);
  });

  it('splits bins into the removed channels and the kept ones', () => {
    const h = binScores([0.1, 0.2, 0.3, 0.9], { removed: [0, 1], threshold: 0.2, bins: 2 });
    assert.deepEqual(h.removed, [2, 0]);
    assert.deepEqual(h.kept, [1, 1]);
  });

  it('spans the data, stretched to show a threshold beyond it', () => {
    assert.deepEqual(binScores([10, 12, 14], { threshold: 11, bins: 4 }).edges, [10, 11, 12, 13, 14]);
    assert.deepEqual(binScores([1, 2, 3], { threshold: 5, bins: 4 }).edges, [1, 2, 3, 4, 5]);
    assert.equal(binScores([1, 2, 3], { threshold: 0.5, bins: 5 }).edges[0], 0.5);
  });

  it('draws equal scores in a non-degenerate domain', () => {
    const h = binScores([0, 0, 0], { removed: [0, 1, 2], threshold: 0, bins: 5 });
    assert.equal(h.edges[0], 0);
    assert.ok(h.edges[5] > 0);
    assert.equal(h.removed[0], 3);
    assert.ok(binScores([2, 2], { bins: 3 }).edges[3] > 2);
  });

  it('rejects non-finite scores and bad bin counts', () => {
    assert.throws(() => binScores([1, NaN]), RangeError);
    assert.throws(() => binScores([1], { bins: 0 }), RangeError);
  });

  it('chooses about 1.5 sqrt(n) bins, between 6 and 40', () => {
    assert.equal(defaultBinCount(4), 6);
    assert.equal(defaultBinCount(64), 12);
    assert.equal(defaultBinCount(512), 34);
    assert.equal(defaultBinCount(100000), 40);
  });

  it('bins in decades on a log scale and counts zeros apart', () => {
    const h = binScores([0, 1e-8, 1e-7, 0.01, 0.1], { removed: [0, 1, 2], threshold: 1e-7, bins: 7, scale: 'log' }); // one bin per decade
    assert.equal(h.edges[0], 1e-8);
    assert.ok(Math.abs(h.edges[7] - 0.1) < 1e-12);
    assert.deepEqual(h.zero, { kept: 0, removed: 1 });
    assert.deepEqual(h.removed, [1, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual(h.kept, [0, 0, 0, 0, 0, 0, 2]);
  });

  it('prefers a log axis only when positive scores span over three decades', () => {
    assert.equal(preferredScale([0.5, 1, 2, 40]), 'linear');
    assert.equal(preferredScale([0, 0, 1e-9, 0.03]), 'log');
    assert.equal(preferredScale([0, 0]), 'linear');
  });

  describe('on the slimmed digits models', () => {
    it('shows the |gamma| of digits_vgg_slim_s1e-2 on a log axis, where the removed cluster spreads out', async () => {
      const table = await analyzeFile(modelPath('digits_vgg_slim_s1e-2.onnx'));
      const plan = planCut(table.layers, 'bn-gamma', 0.5, 'global');
      const layer = table.layers.find((l) => l.displayName === 'features.3.0')!;
      const scores = layerScores(layer, 'bn-gamma')!;
      const cut = plan.layers.get(layer.name)!;
      assert.equal(preferredScale(scores), 'log');
      const log = binScores(scores, { ...cut, scale: 'log' });
      assert.equal(sum(log.removed) + log.zero.removed, 37); // Torch-Pruning: 64 → 27
      // On the linear axis every removed channel lands in the first bin; the log axis spreads them out.
      assert.equal(binScores(scores, cut).removed[0], 37);
      assert.ok(log.removed.filter((c) => c > 0).length >= 3, `removed per bin ${log.removed}`);
    });

    it('agrees with the cut on every layer of digits_resnet_slim_s1e-2', async () => {
      const table = await analyzeFile(modelPath('digits_resnet_slim_s1e-2.onnx'));
      const plan = planCut(table.layers, 'bn-gamma', 0.5, 'global');
      assert.equal(plan.layers.size, 6); // six Conv-BN pairs; the fc has no BN
      for (const layer of table.layers) {
        const cut = plan.layers.get(layer.name);
        if (!cut) continue;
        for (const scale of ['linear', 'log'] as const) {
          const h = binScores(layerScores(layer, 'bn-gamma')!, { ...cut, scale });
          assert.equal(sum(h.removed) + h.zero.removed, cut.removed.length, layer.displayName);
          assert.equal(sum(h.removed) + sum(h.kept) + h.zero.removed + h.zero.kept, layer.outChannels);
        }
      }
    });
  });
});
