// The numbers behind the models view and the hovers, on the real models.
import * as assert from 'node:assert/strict';
import { analyzeFile } from '../../../src/analysis';
import type { LayerTable } from '../../../src/analysis/types';
import { countBelow, embeddingDescription, fmt, layerDescription, lowest, normDescription, summarize } from '../../../src/extension/layerStats';
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
    assert.equal(text, `Conv 32→64 · L1 μ ${fmt(l1Mean)} · γ min ${fmt(Math.min(...gamma.map(Math.abs)))} (${countBelow(gamma, 0.01)} of 64 below 0.01) · 0% zeros`);
  });

  it('describes a projection with its weakest head, a norm with its gammas, a tied embedding (lm_gpt_licenses)', async () => {
    const gpt = await analyzeFile(modelPath('lm_gpt_licenses.onnx'));
    const q = gpt.layers.find((l) => l.displayName === 'h.0.attn.q_proj')!;
    const weakest = q.heads!.l1.indexOf(Math.min(...q.heads!.l1));
    assert.equal(layerDescription(q, 0.01), `MatMul 128→128 · L1 μ ${fmt(summarize(q.out.l1)!.mean)} · 4 heads: L1 min ${fmt(q.heads!.l1[weakest])} (#${weakest}) · 0% zeros`);
    const head = gpt.layers.at(-1)!;
    assert.match(layerDescription(head, 0.01), / · tied to wte\.weight · /);
    const ln = gpt.norms[0];
    assert.equal(normDescription(ln, 0.01), `LayerNorm 128 · γ min ${fmt(Math.min(...ln.gamma.map(Math.abs)))} (${countBelow(ln.gamma, 0.01)} of 128 below 0.01) · β`);
    assert.equal(embeddingDescription(gpt.embeddings[0], ['lm_head']), 'Embedding 256×128 · tied to lm_head');
  });
});
