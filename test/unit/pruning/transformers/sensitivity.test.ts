// Sensitivity per block and per kind on the shared transformers: every
// attention block's heads, every MLP and the hidden size get a curve named by
// its block and kind, and the by-kind summary compares heads, MLP and hidden
// size. A language model without labels is measured by per-token top-1
// agreement with the unpruned model.

import * as assert from 'node:assert/strict';
import { analyzeSensitivity, sensitivityByKind } from '../../../../src/pruning/sensitivity';
import { openCalibration } from '../../../../src/validation/activations';
import { modelPath } from '../../../helpers/models';
import { LM_GPT, VIT, load } from './helpers';

describe('transformers: sensitivity per block and per kind', function () {
  this.timeout(300_000);

  it('digits_vit.onnx: one curve per block and kind, and heads, MLP and hidden size compared', async () => {
    const m = load(VIT);
    const data = await openCalibration(m, { data: modelPath('digits_val_x.npy'), labels: modelPath('digits_val_y.npy'), size: 360, batch: 120 });
    const report = await analyzeSensitivity(m, data, { ratios: [0.25, 0.5, 0.75] });
    const names = report.curves.map((c) => `${c.block ?? '-'} ${c.kind}`).sort();
    assert.deepEqual(names, ['- hidden', 'blocks.0 attention', 'blocks.0 mlp', 'blocks.1 attention', 'blocks.1 mlp', 'blocks.2 attention', 'blocks.2 mlp']);
    const kinds = sensitivityByKind(report);
    assert.deepEqual(kinds.map((k) => [k.kind, k.groups]), [['attention', 3], ['mlp', 3], ['hidden', 1]]);
    for (const k of kinds) for (let j = 0; j < 3; j++) assert.ok(k.worst[j] <= k.mean[j] && k.mean[j] <= 1);
    // The hidden size is the most sensitive, the MLP the least (0.967 dense).
    const at50 = Object.fromEntries(kinds.map((k) => [k.kind, k.mean[1]]));
    assert.ok(at50.hidden < at50.attention && at50.attention < at50.mlp, JSON.stringify(at50));
    if (process.env.SHOW_COUNTS) for (const k of kinds) console.log(`      ${k.kind}: mean ${k.mean.map((v) => v.toFixed(3))} worst ${k.worst.map((v) => v.toFixed(3))}`);
  });

  it('lm_gpt_licenses.onnx: per-token agreement, heads vs MLP vs hidden size', async () => {
    const m = load(LM_GPT);
    const data = await openCalibration(m, { data: modelPath('lm_licenses_val_x.npy'), size: 16, batch: 16 });
    const report = await analyzeSensitivity(m, data, { ratios: [0.25, 0.75] });
    assert.equal(report.metricName, 'agreement');
    assert.equal(report.curves.length, 9, 'hidden size, and heads and MLP of each of 4 blocks');
    const kinds = sensitivityByKind(report);
    assert.deepEqual(kinds.map((k) => [k.kind, k.groups]), [['attention', 4], ['mlp', 4], ['hidden', 1]]);
    // Per token (16 × 64 predictions), so agreement takes values finer than 1/16.
    const values = report.curves.flatMap((c) => c.metric);
    assert.ok(values.some((v) => Math.round(v * 16) !== v * 16), values.join(','));
    for (const c of report.curves) assert.ok(c.metric[1] <= c.metric[0] + 0.02, `${c.block} ${c.kind}: ${c.metric}`);
    if (process.env.SHOW_COUNTS) for (const k of kinds) console.log(`      ${k.kind}: mean ${k.mean.map((v) => v.toFixed(3))} worst ${k.worst.map((v) => v.toFixed(3))}`);
  });
});
