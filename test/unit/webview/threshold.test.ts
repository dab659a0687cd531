import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { analyzeFile, type LayerInfo, type LayerTable } from '../../../src/analysis';
import { layerScores, planCut, removalCount } from '../../../webview/threshold';
import { modelPath } from '../../helpers/models';

/** A layer with just the fields the cut reads. */
function fakeLayer(name: string, l1: number[], gamma?: number[]): LayerInfo {
  const norms = { l1, l2: l1, l1Normalized: l1, l2Normalized: l1 };
  return {
    name, displayName: name, position: 0, op: 'Conv', weightName: `${name}.weight`, weightShape: [l1.length, 1, 1, 1], inChannels: 1, outChannels: l1.length, groups: 1,
    out: norms, in: norms, batchNorm: gamma && { node: `${name}.bn`, scaleName: `${name}.bn.weight`, gamma }, params: l1.length, macs: l1.length, zeros: 0, sparsity: 0,
  };
}

describe('webview threshold', () => {
  describe('removalCount', () => {
    it('is n - floor(n * (1 - ratio)), as in Torch-Pruning and the engine', () => {
      assert.equal(removalCount(10, 0.25), 3); // keeps int(7.5) = 7
      assert.equal(removalCount(192, 0.5), 96);
      assert.equal(removalCount(3, 0.2), 1);
      assert.equal(removalCount(3, 0), 0);
    });

    it('does not lose a channel to floating point', () => {
      assert.equal(10 * (1 - 0.8) < 2, true); // the trap the epsilon avoids
      assert.equal(removalCount(10, 0.8), 8);
      assert.equal(removalCount(50, 0.34), 17);
    });

    it('rejects ratios outside [0, 1]', () => {
      assert.throws(() => removalCount(10, 1.5), RangeError);
      assert.throws(() => removalCount(10, NaN), RangeError);
    });
  });

  describe('planCut', () => {
    it('removes the lowest scores of each layer in local scope', () => {
      const plan = planCut([fakeLayer('a', [0.9, 0.1, 0.5, 0.3, 0.7])], 'l1', 0.4, 'local');
      assert.deepEqual(plan.layers.get('a'), { removed: [1, 3], total: 5, threshold: 0.3 });
    });

    it('removes nothing at ratio 0', () => {
      const cut = planCut([fakeLayer('a', [3, 1, 2])], 'l1', 0, 'local').layers.get('a')!;
      assert.deepEqual(cut.removed, []);
      assert.equal(cut.threshold, -Infinity);
    });

    it('takes the lowest scores wherever they are in global scope', () => {
      const plan = planCut([fakeLayer('a', [1, 2, 3, 4]), fakeLayer('b', [0.5, 5, 6, 7])], 'l1', 0.5, 'global');
      assert.deepEqual(plan.layers.get('a')!.removed, [0, 1, 2]);
      assert.deepEqual(plan.layers.get('b')!.removed, [0]);
      assert.equal(plan.globalThreshold, 3);
      assert.equal(plan.layers.get('b')!.threshold, 3); // the line is the global one in every layer
    });

    it('never removes the last channel of a layer', () => {
      const plan = planCut([fakeLayer('a', [0.1, 0.2]), fakeLayer('b', [5, 6, 7, 8])], 'l1', 0.5, 'global');
      // k = 3, threshold 5: both of a's channels are below it, but one stays.
      assert.deepEqual(plan.layers.get('a')!.removed, [0]);
      assert.deepEqual(plan.layers.get('b')!.removed, [0]);
      assert.deepEqual(planCut([fakeLayer('a', [1])], 'l1', 0.95, 'local').layers.get('a')!.removed, []);
    });

    it('breaks ties by index locally; at the global threshold the tied channels share the count, as in the engine', () => {
      assert.deepEqual(planCut([fakeLayer('a', [0, 1, 0, 0])], 'l1', 0.5, 'local').layers.get('a')!.removed, [0, 2]);
      // Global: k = 2 of 6, the threshold is 0, and three zeros tie for the two places.
      const plan = planCut([fakeLayer('a', [0, 1, 0]), fakeLayer('b', [0, 2, 3])], 'l1', 1 / 3, 'global');
      assert.deepEqual(plan.layers.get('a')!.removed, [0]);
      assert.deepEqual(plan.layers.get('b')!.removed, [0]);
    });

    it('leaves frozen layers out of the cut and out of the global ranking', () => {
      const layers = [fakeLayer('a', [1, 2, 3, 4]), fakeLayer('out', [0.1, 0.2])];
      const plan = planCut(layers, 'l1', 0.5, 'global', { out: 'its channels are the model output' });
      assert.equal(plan.layers.has('out'), false);
      assert.deepEqual(plan.layers.get('a')!.removed, [0, 1]);
    });
  });

  describe('on digits_vgg_slim_s1e-2', () => {
    let table: LayerTable;
    before(async () => {
      table = await analyzeFile(modelPath('digits_vgg_slim_s1e-2.onnx'));
    });
    const reference = JSON.parse(readFileSync(modelPath('digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as {
      groups: { root: string; pruned_idxs: number[] }[];
    };

    it('global |gamma| at 0.5 removes exactly the channels Torch-Pruning removed', () => {
      const plan = planCut(table.layers, 'bn-gamma', 0.5, 'global');
      // Only the four Conv layers followed by BatchNorm have a gamma.
      assert.equal(plan.layers.size, 4);
      for (const group of reference.groups) {
        const layer = table.layers.find((l) => l.displayName === group.root);
        assert.ok(layer, `layer ${group.root} in the table`);
        assert.deepEqual(plan.layers.get(layer.name)!.removed, group.pruned_idxs, group.root);
        // The threshold separates them: Torch-Pruning's `imp <= thres` picks the same set.
        const scores = layerScores(layer, 'bn-gamma')!;
        assert.deepEqual(scores.flatMap((s, i) => (s <= plan.globalThreshold! ? [i] : [])), group.pruned_idxs);
      }
    });

    it('local scope removes 30% of every layer (rounded as the engine does), below every kept score', () => {
      const plan = planCut(table.layers, 'l1', 0.3, 'local');
      assert.equal(plan.layers.size, table.layers.length); // every layer has filter norms
      // 32 → keeps int(22.4) = 22; 64 → 44; the classifier's 10 → 7.
      assert.deepEqual(table.layers.map((l) => plan.layers.get(l.name)!.removed.length), [10, 10, 20, 20, 20, 3]);
      for (const layer of table.layers) {
        const cut = plan.layers.get(layer.name)!;
        const gone = new Set(cut.removed);
        const removedMax = Math.max(...layer.out.l1.filter((_, i) => gone.has(i)));
        const keptMin = Math.min(...layer.out.l1.filter((_, i) => !gone.has(i)));
        assert.ok(keptMin > removedMax, layer.displayName);
      }
    });

    it('global scope removes the requested share of all channels, unevenly', () => {
      const plan = planCut(table.layers, 'l2', 0.4, 'global');
      const cuts = [...plan.layers.values()];
      const total = cuts.reduce((s, c) => s + c.total, 0);
      assert.equal(cuts.reduce((s, c) => s + c.removed.length, 0), removalCount(total, 0.4)); // distinct scores: no ties
      const fractions = cuts.map((c) => c.removed.length / c.total);
      assert.ok(Math.max(...fractions) - Math.min(...fractions) > 0.1, `fractions ${fractions}`);
    });
  });

  it('with the engine\'s defaults (normalizer mean, max_ratio 0.9) it previews what a global prune of resnet18 removes', async () => {
    const table = await analyzeFile(modelPath('resnet18_seed0_bn.onnx'));
    const names = new Map(table.layers.map((l) => [l.name, l.displayName]));
    const raw = planCut(table.layers, 'l1', 0.3, 'global', { [table.layers.at(-1)!.name]: 'output' });
    const normalised = planCut(table.layers, 'l1', 0.3, 'global', { [table.layers.at(-1)!.name]: 'output' }, { normalizer: 'mean', maxRatio: 0.9 });
    const conv1 = table.layers[0].name;
    assert.equal(names.get(conv1), 'conv1');
    // Raw L1 norms of the stem are tiny next to layer4's: the raw ranking empties it.
    assert.equal(raw.layers.get(conv1)!.removed.length, 63);
    for (const [name, cut] of normalised.layers) assert.ok(cut.total - cut.removed.length >= Math.ceil(0.1 * cut.total), `${names.get(name)}: ${cut.total - cut.removed.length} of ${cut.total} kept`);
    // round_to keeps multiples.
    const rounded = planCut(table.layers, 'l1', 0.3, 'global', {}, { normalizer: 'mean', maxRatio: 0.9, roundTo: 8 });
    for (const cut of rounded.layers.values()) assert.equal((cut.total - cut.removed.length) % 8, 0);
  });

  it('bn-gamma has no scores for models without BatchNorm (digits_lenet)', async () => {
    const table = await analyzeFile(modelPath('digits_lenet.onnx'));
    const plan = planCut(table.layers, 'bn-gamma', 0.5, 'global');
    assert.equal(plan.layers.size, 0);
    assert.equal(plan.globalThreshold, -Infinity);
    assert.equal(planCut(table.layers, 'l1', 0.5, 'local').layers.size, table.layers.length);
  });
});
