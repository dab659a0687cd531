// A global structured prune at the defaults must not destroy a model: scores are
// normalised per layer (Torch-Pruning's `mean`) and every layer keeps at least
// 10% of its channels. Checked on resnet18, whose raw L1 norms differ by orders
// of magnitude across layers (issue 10: the old defaults cut conv1 and layer1 to
// one channel and left an output cosine of 0.02).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serializeModel, type OnnxModel } from '../../../../src/onnx/model';
import { concatChunks } from '../../../../src/onnx/wire';
import { drasticLayers } from '../../../../src/pruning/outcome';
import { runPlan, savePruned, validatePlan, type PlanStep } from '../../../../src/pruning/plan';
import { pruneStructured } from '../../../../src/pruning/structured';
import { mulberry32 } from '../../../../src/pruning/unstructured/random';
import { runModel } from '../../../helpers/ort';
import { load, tempDir } from '../unstructured/helpers';
import { unprunableVitLike } from '../../../fixtures/models/unprunable';

const SAMPLES = 2;

/** Seeded standard-normal images of 3×224×224 (what validation generates when it has no data); resnet18 takes one at a time. */
function generatedInputs(): { dims: number[]; data: Float32Array }[] {
  const next = mulberry32(7);
  return Array.from({ length: SAMPLES }, () => {
    const data = new Float32Array(3 * 224 * 224);
    for (let i = 0; i < data.length; i++) data[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return { dims: [1, 3, 224, 224], data };
  });
}

function meanCosine(a: Float32Array, b: Float32Array, rows: number): number {
  const n = a.length / rows;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = r * n; i < (r + 1) * n; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    sum += ab / Math.sqrt(aa * bb);
  }
  return sum / rows;
}

/** The outputs for every input, one row each. */
async function outputOf(model: OnnxModel, inputs: { dims: number[]; data: Float32Array }[]): Promise<Float32Array> {
  const bytes = concatChunks(serializeModel(model));
  const rows: Float32Array[] = [];
  for (const input of inputs) rows.push(Object.values(await runModel(bytes, { input }))[0]);
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
}

describe('plan: global structured defaults (normaliser mean, max_ratio 0.9)', function () {
  this.timeout(120_000);
  const input = generatedInputs();
  let original: Float32Array;
  before(async () => {
    original = await outputOf(load('resnet18_seed0_bn.onnx'), input);
  });

  // What the wizard's defaults (L1, 30%, global) become.
  const defaults: PlanStep = { method: 'l1', structured: true, scope: 'global', amount: 0.3 };

  it('a global L1 prune of resnet18 at 30% leaves every layer at least 10% of its channels and an output cosine >= 0.5', async () => {
    const model = load('resnet18_seed0_bn.onnx');
    const report = await runPlan(model, { steps: [defaults] });
    assert.ok(report.totals.paramsAfter < report.totals.paramsBefore * 0.8, 'the prune removed little');
    for (const l of report.layers) {
      assert.ok(l.outAfter >= 0.1 * l.outBefore, `${l.layer}: ${l.outBefore}→${l.outAfter}`);
    }
    assert.deepEqual(drasticLayers(report), []);
    assert.equal(report.warnings.filter((w) => /more than 90%/.test(w)).length, 0);
    const cosine = meanCosine(original, await outputOf(model, input), SAMPLES);
    assert.ok(cosine >= 0.5, `output cosine to the original ${cosine.toFixed(3)}`);
  });

  it('raw scores without a floor (normalizer none, max_ratio 1) still empty layers, and the report names them', async () => {
    const model = load('resnet18_seed0_bn.onnx');
    const report = await runPlan(model, { steps: [{ ...defaults, normalizer: 'none', max_ratio: 1 }] });
    const drastic = drasticLayers(report);
    assert.ok(drastic.length >= 5, `only ${drastic.length} layers lost more than 90%`);
    const warning = report.warnings.find((w) => /more than 90% of their channels/.test(w));
    assert.ok(warning, `no warning in ${JSON.stringify(report.warnings)}`);
    assert.match(warning!, /\bconv1 64→1\b/);
    assert.match(warning!, /layer1\.0\.conv1 64→1/);
    const cosine = meanCosine(original, await outputOf(model, input), SAMPLES);
    assert.ok(cosine < 0.5, `the raw ranking kept cosine ${cosine.toFixed(3)}; this test would not tell the defaults apart`);
  });

  it('the floor holds at a large amount: max_ratio 0.9 and one round_to unit per layer', async () => {
    const model = load('resnet18_seed0_bn.onnx');
    const report = await runPlan(model, { steps: [{ ...defaults, amount: 0.8, round_to: 8 }] });
    for (const l of report.layers) {
      assert.ok(l.outAfter >= Math.max(8, Math.ceil(0.1 * l.outBefore)), `${l.layer}: ${l.outBefore}→${l.outAfter}`);
      assert.equal(l.outAfter % 8, 0, `${l.layer}: ${l.outAfter} channels is not a multiple of 8`);
    }
  });

  it('round_to reports its cost: the channels it kept that the amount would have removed', () => {
    const removed = (roundTo: number) => {
      const { selection } = pruneStructured(load('digits_vgg_slim_s1e-2.onnx'), {
        criterion: 'bn-gamma', scope: 'global', ratio: 0.5, normalizer: 'none', ignore: ['classifier.3'], roundTo,
      });
      return { count: [...selection.remove.values()].reduce((n, l) => n + l.length, 0), kept: selection.keptByRounding };
    };
    const plain = removed(1);
    const rounded = removed(8);
    assert.equal(plain.kept, 0);
    assert.ok(rounded.kept > 0);
    assert.equal(plain.count - rounded.count, rounded.kept);
  });

  it('plans check the normalizer: known names only, structured steps only', () => {
    assert.deepEqual(validatePlan({ steps: [{ ...defaults, normalizer: 'max' }] }), []);
    assert.match(validatePlan({ steps: [{ ...defaults, normalizer: 'median' as never }] })[0].message, /normalizer "median" is not known \(one of mean, max/);
    assert.match(validatePlan({ steps: [{ method: 'l1', amount: 0.3, normalizer: 'mean' }] })[0].message, /"normalizer" .*structured/);
  });

  it('a prune that removes nothing writes nothing and says which groups are frozen and why', async () => {
    const model = unprunableVitLike();
    const report = await runPlan(model, { steps: [defaults] });
    const dir = tempDir();
    await assert.rejects(savePruned(model, report, path.join(dir, 'vit_like.pruned.onnx')), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'nothing-pruned');
      assert.match(e.message, /nothing was pruned, so no file was written/);
      assert.match(e.message, /reaches the graph output \(head\)/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), []);
  });

});
