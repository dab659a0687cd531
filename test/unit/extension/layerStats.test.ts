// The numbers behind the models view and the hovers, on the real models.
import * as assert from 'node:assert/strict';
import { analyzeFile } from '../../../src/analysis';
import type { LayerTable } from '../../../src/analysis/types';
import { countBelow, fmt, layerDescription, lowest, summarize } from '../../../src/extension/layerStats';
import { modelPath } from '../../helpers/models';


describe('extension layer statistics', () => {
  let vgg: LayerTable;
  before(async () => {
    vgg = await analyzeFile(modelPath('digits_vgg_slim_s1e-2.onnx'));
  });

  it('summarizes min, median (odd and even counts), max and mean', () => {
    assert.deepEqual(summarize([3, 1, 2]), { min: 1, median: 2, max: 3, mean: 2 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4, mean: 2.5 });
    assert.equal(summarize([]), undefined);
  });

  it('lists the lowest channels, ties by index', () => {
    assert.deepEqual(lowest([0.5, 0.1, 0.1, 0.3], 3), [{ index: 1, value: 0.1 }, { index: 2, value: 0.1 }, { index: 3, value: 0.3 }]);
  });

  it('describes a layer with its op, channels, L1 mean, smallest γ and small-γ count', () => {
    const layer = vgg.layers.find((l) => l.displayName === 'features.3.0')!;
    const gamma = layer.batchNorm!.gamma;
    const text = layerDescription(layer, 0.01);
    const l1Mean = layer.out.l1.reduce((a, b) => a + b, 0) / layer.out.l1.length;
    assert.equal(text, `Conv 32→64 · L1 μ ${fmt(l1Mean)} · γ min ${fmt(Math.min(...gamma.map(Math.abs)))} (${countBelow(gamma, 0.01)}/64 < 0.01) · 0% zeros`);
  });
});
