// The extension's bridge to the plan runner: the dialog's answers as a plan,
// the model a plan file prunes, and files written whole or not at all.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/analysis';
import { modelForPlan, planFromRequest, PRUNE_METHODS, prunePlanToFile, readReportFor } from '../../../src/extension/pruneOps';
import { validatePlan } from '../../../src/pruning/plan';

const models = path.resolve(__dirname, '../../../../shared/models');

describe('extension prune operations', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-ext-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('turns every dialog answer into a plan the runner accepts', () => {
    for (const method of PRUNE_METHODS) {
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

  it('writes the pruned model and its report, and reads the report back', async () => {
    const source = path.join(dir, 'lenet.onnx');
    fs.copyFileSync(path.join(models, 'digits_lenet.onnx'), source);
    const out = path.join(dir, 'lenet.pruned.onnx');
    const report = await prunePlanToFile(source, planFromRequest({ method: 'l1', amount: 0.5, scope: 'local', structured: true, ignore: ['fc3'] }), out);
    const before = await analyzeFile(source);
    const after = await analyzeFile(out);
    for (const l of before.layers.filter((x) => x.displayName !== 'fc3')) {
      assert.equal(after.layers.find((a) => a.name === l.name)!.outChannels, l.outChannels - Math.round(0.5 * l.outChannels), l.displayName);
    }
    assert.deepEqual(await readReportFor(out), report);
  });

  it('refuses to write over the source, and leaves nothing behind when the plan fails', async () => {
    const source = path.join(dir, 'lenet.onnx');
    fs.copyFileSync(path.join(models, 'digits_lenet.onnx'), source);
    const plan = planFromRequest({ method: 'l1', amount: 0.5, scope: 'local', structured: false });
    await assert.rejects(() => prunePlanToFile(source, plan, source), /replace the model being pruned/);
    const bad = planFromRequest({ method: 'l1', amount: 0.5, scope: 'local', structured: false, layers: ['no.such.layer'] });
    await assert.rejects(() => prunePlanToFile(source, bad, path.join(dir, 'out.onnx')), /no\.such\.layer/);
    assert.deepEqual(fs.readdirSync(dir), ['lenet.onnx']);
  });

  it('honours an abort signal', async () => {
    const source = path.join(dir, 'lenet.onnx');
    fs.copyFileSync(path.join(models, 'digits_lenet.onnx'), source);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(() => prunePlanToFile(source, planFromRequest({ method: 'l1', amount: 0.5, scope: 'local', structured: false }), path.join(dir, 'o.onnx'), { signal: controller.signal }));
    assert.deepEqual(fs.readdirSync(dir), ['lenet.onnx']);
  });
});
