import * as assert from 'node:assert/strict';
import { loadModelSync } from '../../../../src/onnx/model';
import { runPlan } from '../../../../src/pruning/plan/run';
import type { PrunePlan } from '../../../../src/pruning/plan/types';
import { openCalibration } from '../../../../src/validation/activations';
import { digitsAccuracy } from './helpers';
import { MODELS, modelPath } from '../../../helpers/models';

describe('recovery in pruning plans', () => {
  const calibrate = (m: Parameters<typeof openCalibration>[0], c: { data: string; size?: number; batch?: number }) =>
    openCalibration(m, { data: c.data, size: c.size, batch: c.batch });

  it('runs a structured wanda step with least-squares recovery and reports the per-layer errors', async () => {
    const plan: PrunePlan = {
      steps: [{
        method: 'wanda', structured: true, amount: 0.5, ignore: ['fc'],
        calibration: { data: 'digits_train_x.npy', size: 256 }, recovery: { method: 'least-squares' },
      }],
    };
    const m = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const report = await runPlan(m, plan, { baseDir: MODELS, calibrate });
    assert.equal(report.recovery?.length, 6);
    for (const r of report.recovery!) assert.ok(r.errorAfter < r.errorBefore, `${r.layer}`);
    const acc = await digitsAccuracy(m);
    assert.ok(acc >= 0.93, `accuracy ${acc}`);
  });

  it('refuses data-aware steps when the front end cannot calibrate, naming the step', async () => {
    const m = loadModelSync(modelPath('digits_mlp.onnx'));
    await assert.rejects(runPlan(m, { steps: [{ method: 'activation-norm', structured: true, amount: 0.5, calibration: { data: 'digits_train_x.npy' } }] }, { baseDir: MODELS }),
      /step 1 uses calibration data, which this front end cannot run/);
  });
});
