// What the prune toast says, and which pruned versions "Validate" finds next to an original.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prunedVersions, pruneSummary } from '../../../src/extension/pruneOps';
import { loadModelSync } from '../../../src/onnx/model';
import { runPlan, savePruned } from '../../../src/pruning/plan';
import { modelPath } from '../../helpers/models';
import { load, tempDir } from '../pruning/unstructured/helpers';

describe('extension: prune summary and pruned versions', () => {
  it('a structured prune reports channels removed once per group, the groups cut, the frozen ones and the rounding\'s cost', async () => {
    const model = load('digits_resnet_slim_s1e-2.onnx');
    const report = await runPlan(model, { steps: [{ method: 'l1', structured: true, scope: 'local', amount: 0.3, round_to: 4 }] });
    const step = report.steps![0];
    // Residual Adds couple layers: per-layer counts would count a channel several times.
    const perLayer = report.layers.reduce((n, l) => n + l.removed.length, 0);
    assert.ok(step.channelsRemoved! < perLayer, `${step.channelsRemoved} vs ${perLayer}`);
    const text = pruneSummary(report);
    assert.match(text, new RegExp(`^removed ${step.channelsRemoved} channels in ${step.groupsCut} groups \\(${report.frozen.length} frozen\\)`));
    // 16 channels at 30% keep 11, rounded up to 12; 32 keep 22, rounded to 24.
    assert.ok(step.keptByRounding! > 0);
    assert.ok(text.includes(`, ${step.keptByRounding} more kept by round_to;`), text);
    assert.match(text, /params −\d+(\.\d)?%, MACs −\d+(\.\d)?%$/);
  });

  it('an unstructured prune reports the weights zeroed', async () => {
    const model = load('digits_mlp.onnx');
    const report = await runPlan(model, { steps: [{ method: 'l1', amount: 0.4 }] });
    const t = report.totals;
    const zeroed = (t.zerosAfter ?? 0) - (t.zerosBefore ?? 0);
    assert.ok(zeroed > 0);
    const sparsity = ((100 * t.zerosAfter!) / t.paramsAfter).toFixed(1);
    assert.equal(pruneSummary(report), `zeroed ${zeroed.toLocaleString('en-US')} weights; ${sparsity}% of all parameters are now zero (masks keep the model's size)`);
  });

  it('finds the pruned versions of an original by their reports, newest first', async () => {
    const dir = tempDir();
    const original = path.join(dir, 'digits_mlp.onnx');
    fs.copyFileSync(modelPath('digits_mlp.onnx'), original);
    const write = async (name: string, amount: number, mtime: number) => {
      const model = loadModelSync(original);
      const report = await runPlan(model, { steps: [{ method: 'l1', amount }] });
      await savePruned(model, report, path.join(dir, name));
      fs.utimesSync(path.join(dir, name), mtime, mtime);
    };
    await write('a.onnx', 0.2, 1_000_000);
    await write('b.onnx', 0.3, 2_000_000);
    fs.copyFileSync(modelPath('digits_lenet.onnx'), path.join(dir, 'other.onnx'));
    assert.deepEqual((await prunedVersions(original)).map((f) => path.basename(f)), ['b.onnx', 'a.onnx']);
  });
});
