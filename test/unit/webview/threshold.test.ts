import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { scanLayerTable } from '../../../scripts/webview-preview/onnx-scan';
import { countAtOrBelow, layerScores, planCut, ratioThreshold, removalCount } from '../../../webview/threshold';

const MODELS = '../shared/models';

describe('webview threshold', () => {
  describe('ratioThreshold', () => {
    it('is the k-th lowest score, k = floor(ratio * n)', () => {
      const scores = [0.9, 0.1, 0.5, 0.3, 0.7];
      assert.equal(ratioThreshold(scores, 0.4), 0.3); // k = 2
      assert.equal(countAtOrBelow(scores, ratioThreshold(scores, 0.4)), 2);
      assert.equal(ratioThreshold(scores, 0.99), 0.7); // k = 4
    });

    it('removes nothing when the ratio rounds down to zero channels', () => {
      const t = ratioThreshold([3, 1, 2], 0.2);
      assert.equal(t, -Infinity);
      assert.equal(countAtOrBelow([3, 1, 2], t), 0);
    });

    it('keeps 0.29 of 100 at 29 channels despite floating point', () => {
      assert.equal(0.29 * 100 < 29, true); // the trap the epsilon avoids
      assert.equal(removalCount(100, 0.29), 29);
      assert.equal(removalCount(10, 0.7), 7);
    });

    it('removes every channel tied at the threshold, like Torch-Pruning', () => {
      const scores = [0, 0, 0, 0.4, 0.8, 1.2];
      // k = 2, but all three zero filters sit at the threshold.
      assert.equal(countAtOrBelow(scores, ratioThreshold(scores, 2 / 6)), 3);
    });

    it('rejects ratios outside [0, 1]', () => {
      assert.throws(() => removalCount(10, 1.5), RangeError);
      assert.throws(() => removalCount(10, NaN), RangeError);
    });
  });

  describe('on digits_vgg_slim_s1e-2', () => {
    const table = scanLayerTable(`${MODELS}/digits_vgg_slim_s1e-2.onnx`);
    const reference = JSON.parse(readFileSync(`${MODELS}/digits_vgg_tp_bnscale_50_global_nonorm.json`, 'utf8')) as {
      groups: { root: string; pruned_idxs: number[] }[];
    };

    it('global |gamma| at 0.5 removes exactly the channels Torch-Pruning removed', () => {
      const plan = planCut(table.layers, 'gamma', 0.5, 'global');
      // Only the four Conv layers followed by BatchNorm have a gamma.
      assert.equal(plan.layers.size, 4);
      assert.ok(plan.globalThreshold !== undefined && Number.isFinite(plan.globalThreshold));
      for (const group of reference.groups) {
        const layer = table.layers.find((l) => l.displayName === group.root);
        assert.ok(layer, `layer ${group.root} in the table`);
        const scores = layerScores(layer, 'gamma')!;
        const removed = scores.flatMap((s, i) => (s <= plan.globalThreshold! ? [i] : []));
        assert.deepEqual(removed, group.pruned_idxs, group.root);
        assert.equal(plan.layers.get(layer.name)!.removed, group.pruned_idxs.length);
      }
    });

    it('local scope removes floor(ratio * channels) from every layer with scores', () => {
      const plan = planCut(table.layers, 'l1', 0.3, 'local');
      assert.equal(plan.layers.size, table.layers.length); // every layer has filter norms
      for (const layer of table.layers) {
        const cut = plan.layers.get(layer.name)!;
        assert.equal(cut.total, layer.outChannels);
        assert.equal(cut.removed, Math.floor(0.3 * layer.outChannels), layer.displayName);
        // The cut separates the scores: every kept filter outscores every removed one.
        const removedMax = Math.max(...layer.out.l1.filter((s) => s <= cut.threshold));
        const keptMin = Math.min(...layer.out.l1.filter((s) => s > cut.threshold));
        assert.ok(keptMin > removedMax, layer.displayName);
      }
    });

    it('global scope removes the requested share of all channels, unevenly', () => {
      const plan = planCut(table.layers, 'l2', 0.4, 'global');
      const total = [...plan.layers.values()].reduce((s, c) => s + c.total, 0);
      const removed = [...plan.layers.values()].reduce((s, c) => s + c.removed, 0);
      assert.equal(removed, Math.floor(0.4 * total));
      const fractions = [...plan.layers.values()].map((c) => c.removed / c.total);
      assert.ok(Math.max(...fractions) - Math.min(...fractions) > 0.1, `fractions ${fractions}`);
    });
  });

  it('gamma has no scores for models without BatchNorm (digits_lenet)', () => {
    const table = scanLayerTable(`${MODELS}/digits_lenet.onnx`);
    assert.equal(planCut(table.layers, 'gamma', 0.5, 'global').layers.size, 0);
    assert.equal(planCut(table.layers, 'gamma', 0.5, 'global').globalThreshold, -Infinity);
    assert.equal(planCut(table.layers, 'l1', 0.5, 'local').layers.size, table.layers.length);
  });
});
