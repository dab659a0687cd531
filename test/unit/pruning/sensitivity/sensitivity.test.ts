import * as assert from 'node:assert/strict';
import { loadModelSync, parseModel } from '../../../../src/onnx/model';
import { validatePlan } from '../../../../src/pruning/plan/validate';
import { runPlan } from '../../../../src/pruning/plan/run';
import type { SensitivityReport } from '../../../../src/pruning/report';
import { analyzeSensitivity, suggestPlan } from '../../../../src/pruning/sensitivity';
import { buildDependencyGraph, keptCount, pruneStructured } from '../../../../src/pruning/structured';
import { openCalibration } from '../../../../src/validation/activations';
import { digitsAccuracy } from '../recovery/helpers';
import { modelPath } from '../../../helpers/models';

const VAL = { data: modelPath('digits_val_x.npy'), labels: modelPath('digits_val_y.npy'), size: 360, batch: 120 };
const reports = new Map<string, SensitivityReport>();

async function curves(file: string): Promise<SensitivityReport> {
  if (!reports.has(file)) {
    const m = loadModelSync(modelPath(file));
    reports.set(file, await analyzeSensitivity(m, await openCalibration(m, VAL)));
  }
  return reports.get(file)!;
}

describe('sensitivity analysis', () => {
  for (const [file, groups] of [['digits_vgg_slim_s1e-2.onnx', 5], ['digits_resnet_slim_s1e-2.onnx', 4]] as const) {
    it(`measures a curve per prunable channel group of ${file}, each point equal to pruning that group alone`, async () => {
      const report = await curves(file);
      const original = loadModelSync(modelPath(file));
      assert.equal(report.metricName, 'accuracy');
      assert.equal(report.baseline, await digitsAccuracy(original));
      assert.equal(report.curves.length, groups);
      for (const c of report.curves) {
        assert.deepEqual(c.ratios, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
        assert.ok(c.metric.every((v) => v >= 0 && v <= 1));
        assert.ok(c.macsSaved!.every((v, i) => v > 0 && (i === 0 || v >= c.macsSaved![i - 1])), `${c.layer}: MACs saved grow with the ratio`);
        assert.ok(c.metric[8] < c.metric[0], `${c.layer}: pruning 90% hurts more than 10%`);
      }
      // One point checked from scratch: the third group at 60%, through the structured engine and onnxruntime.
      const c = report.curves[2];
      const copy = loadModelSync(modelPath(file));
      const group = buildDependencyGraph(copy).groups.find((g) => g.rootNodes[0] === c.layer)!;
      pruneStructured(copy, { ratio: 0, perGroupCount: { [group.id]: group.size - keptCount(group.size, 0.6) } });
      assert.equal(c.metric[5], await digitsAccuracy(copy));
    });
  }

  it('ties the residual stream: one ResNet curve covers every layer writing into it', async () => {
    const report = await curves('digits_resnet_slim_s1e-2.onnx');
    assert.deepEqual(report.curves[0].layers, ['/stem/stem.0/Conv', '/layer1/conv2/Conv']);
  });

  it('measures agreement with the unpruned model when there are no labels', async () => {
    const m = loadModelSync(modelPath('digits_mlp.onnx'));
    const data = await openCalibration(m, { data: VAL.data, size: 120 });
    const report = await analyzeSensitivity(m, data, { ratios: [0.5, 0.95] });
    assert.equal(report.metricName, 'agreement');
    assert.equal(report.baseline, 1);
    assert.equal(report.curves.length, 2);
    assert.ok(report.curves.every((c) => c.metric[0] < 1 && c.metric[1] < c.metric[0]));
  });

  it('suggests a valid plan that reaches the MAC target with the least predicted loss', async () => {
    const file = 'digits_vgg_slim_s1e-2.onnx';
    const report = await curves(file);
    const m = loadModelSync(modelPath(file));
    const s = await suggestPlan(m, report, { target: 0.5 });
    assert.deepEqual(validatePlan(JSON.parse(JSON.stringify(s.plan))).filter((i) => i.severity === 'error'), []);
    assert.ok(s.macsReduction >= 0.5, `removes ${s.macsReduction} of the MACs`);
    // Applying the plan for real: the MACs go down as promised and accuracy stays close to the prediction.
    const pruned = parseModel(m.bytes, m.file);
    const result = await runPlan(pruned, s.plan);
    assert.ok(1 - result.totals.macsAfter / result.totals.macsBefore >= 0.5);
    const acc = await digitsAccuracy(pruned);
    console.log(`      suggested plan for ${file}: ${s.ratios.map((r) => `${r.layer.split('/').at(-2)} ${r.ratio}`).join(', ')}; MACs −${(s.macsReduction * 100).toFixed(1)}%, predicted loss ${s.predictedLoss.toFixed(3)}, accuracy ${acc.toFixed(3)}`);
    assert.ok(acc >= report.baseline - s.predictedLoss - 0.05, `accuracy ${acc}`);
    // The even split (every group at 50%) is no better by the curves' own numbers.
    const even = report.curves.reduce((sum, c) => sum + Math.max(0, report.baseline - c.metric[4]), 0);
    assert.ok(s.predictedLoss <= even);
    await assert.rejects(suggestPlan(m, report, { target: 0.999 }), /no plan over the measured ratios removes 100%/);
  });
});
