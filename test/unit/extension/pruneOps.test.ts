// The extension's bridge to the plan runner: the dialog's answers as a plan
// (with calibration and recovery), which plans need onnxruntime, and the
// model a plan file prunes. The plans themselves run in the worker
// (test/unit/validation/workerJobs.test.ts).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { modelForPlan, needsCalibration, parseNm, planFromRequest, planNeedsNative, readReportFor } from '../../../src/extension/pruneOps';
import { CALIBRATED_MASK_METHODS, DATA_AWARE_METHODS, RECOVERY_METHODS, WEIGHT_METHODS } from '../../../src/pruning/methods';
import { validatePlan } from '../../../src/pruning/plan';

describe('extension prune operations', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-ext-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('turns every dialog answer into a plan the runner accepts', () => {
    for (const method of WEIGHT_METHODS) {
      for (const structured of [true, false]) {
        for (const scope of ['local', 'global'] as const) {
          const plan = planFromRequest({ method, amount: 0.3, scope, structured, ignore: ['fc'] });
          assert.deepEqual(validatePlan(plan).filter((i) => i.severity === 'error'), [], `${method} ${scope} structured=${structured}`);
        }
      }
    }
  });

  it('finds the model with the plan\'s stem, dropping qualifiers', () => {
    fs.writeFileSync(path.join(dir, 'vgg.onnx'), '');
    assert.equal(modelForPlan(path.join(dir, 'vgg.prune.json')), path.join(dir, 'vgg.onnx'));
    assert.equal(modelForPlan(path.join(dir, 'vgg.global50.prune.json')), path.join(dir, 'vgg.onnx'));
    assert.equal(modelForPlan(path.join(dir, 'lenet.prune.json')), undefined);
  });

  it('adds calibration and recovery only where they are needed, as plans the runner accepts', () => {
    const calibration = { data: '/data/x.npy', size: 128 };
    for (const method of [...WEIGHT_METHODS, ...DATA_AWARE_METHODS]) {
      for (const recovery of RECOVERY_METHODS) {
        const plan = planFromRequest({ method, amount: 0.5, scope: 'local', structured: true, recovery, calibration });
        const step = plan.steps[0];
        const dataAware = (DATA_AWARE_METHODS as readonly string[]).includes(method);
        assert.deepEqual(step.calibration, dataAware || recovery !== 'none' ? calibration : undefined, `${method} + ${recovery}`);
        assert.deepEqual(step.recovery, recovery === 'none' ? undefined : { method: recovery }, `${method} + ${recovery}`);
        assert.equal(planNeedsNative(plan), dataAware || recovery !== 'none', `${method} + ${recovery}`);
        assert.deepEqual(validatePlan(plan).filter((i) => i.severity === 'error'), [], `${method} + ${recovery}`);
      }
    }
    // Without calibration data the same request is a plan the runner refuses, naming the step's missing field.
    const missing = validatePlan(planFromRequest({ method: 'wanda', amount: 0.5, scope: 'local', structured: true }));
    assert.ok(missing.some((i) => i.severity === 'error' && i.path.includes('calibration')), JSON.stringify(missing));
  });

  it('turns unstructured wanda and sparsegpt at a sparsity or an N:M pattern into calibrated mask steps the runner accepts', () => {
    const calibration = { data: '/data/train_x.npy', size: 64 };
    for (const method of CALIBRATED_MASK_METHODS) {
      assert.ok(needsCalibration({ method }), method);
      const fraction = planFromRequest({ method, amount: 0.5, scope: 'local', structured: false, calibration, ignore: ['lm_head'] });
      assert.deepEqual(fraction.steps, [{ method, structured: false, amount: 0.5, ignore: ['lm_head'], calibration }]);
      const pattern = planFromRequest({ method, amount: 0.5, nm: '2:4', scope: 'local', structured: false, calibration });
      assert.deepEqual(pattern.steps, [{ method, structured: false, nm: '2:4', calibration }]);
      for (const plan of [fraction, pattern]) {
        assert.equal(planNeedsNative(plan), true, method);
        assert.deepEqual(validatePlan(plan).filter((i) => i.severity === 'error'), [], `${method} ${JSON.stringify(plan)}`);
      }
      // Without calibration data the runner refuses it, naming the missing field.
      const missing = validatePlan(planFromRequest({ method, amount: 0.5, scope: 'local', structured: false }));
      assert.ok(missing.some((i) => i.severity === 'error' && i.path.includes('calibration')), JSON.stringify(missing));
    }
  });

  it('reads N:M patterns', () => {
    assert.deepEqual(parseNm('2:4'), { n: 2, m: 4 });
    assert.deepEqual(parseNm(' 4 : 8 '), { n: 4, m: 8 });
    for (const bad of ['4:4', '0:4', '5:4', '2:', ':4', '2/4', '0.5', '2:4:8', '']) assert.equal(parseNm(bad), undefined, bad);
  });

  it('says which plan files need onnxruntime', () => {
    assert.equal(planNeedsNative({ steps: [{ method: 'l1', structured: true, amount: 0.3 }, { method: 'nm', nm: '2:4' }] }), false);
    assert.equal(planNeedsNative({ steps: [{ method: 'l1', amount: 0.3 }, { method: 'activation-norm', structured: true, amount: 0.3 }] }), true);
    assert.equal(planNeedsNative({ steps: [{ method: 'l1', structured: true, amount: 0.3, recovery: { method: 'none' } }] }), false);
    assert.equal(planNeedsNative({ steps: [{ method: 'l1', structured: true, amount: 0.3, calibration: { data: 'x.npy' }, recovery: { method: 'bn-recalibration' } }] }), true);
  });

  it('reads the report next to a pruned model, and nothing when there is none', async () => {
    const out = path.join(dir, 'm.pruned.onnx');
    assert.equal(await readReportFor(out), undefined);
    const report = { source: 'm.onnx', output: out, method: 'l1', structured: true, layers: [], frozen: [], warnings: [],
      totals: { paramsBefore: 2, paramsAfter: 1, macsBefore: 2, macsAfter: 1, bytesBefore: 10, bytesAfter: 5 } };
    fs.writeFileSync(`${out}.report.json`, JSON.stringify(report));
    assert.deepEqual(await readReportFor(out), report);
  });
});
