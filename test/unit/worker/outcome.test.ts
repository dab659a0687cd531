// What the worker's prune job does before writing (issue 10): a prune that
// would nearly empty layers stops when the caller asked to confirm, naming the
// layers, and writes nothing; a prune that removes nothing writes nothing.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planFromRequest } from '../../../src/extension/pruneOps';
import { validatePlan } from '../../../src/pruning/plan';
import { WorkerClient } from '../../../src/worker';
import { buildWorker } from '../../helpers/worker';
import { MODELS, modelPath, tempDir } from '../../helpers/models';

describe('worker: the outcome of a prune, judged before writing', function () {
  this.timeout(120_000);
  let client: WorkerClient;
  before(async () => {
    client = new WorkerClient({ workerPath: await buildWorker() });
  });
  after(() => client?.dispose());

  const raw = planFromRequest({ method: 'l1', amount: 0.3, scope: 'global', structured: true, normalizer: 'none', maxRatio: 1 });

  it('stops before writing a model whose layers lose over 90% when asked to confirm, and writes it when not', async () => {
    const dir = tempDir('drastic');
    const output = path.join(dir, 'resnet18.pruned.onnx');
    const job = { model: modelPath('resnet18_seed0_bn.onnx'), plan: raw, planBaseDir: MODELS, output };
    await assert.rejects(client.prunePlan({ ...job, confirmDrastic: true }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'drastic');
      assert.match(e.message, /layers lose more than 90% of their channels: conv1 64→1, layer1\.0\.conv1 64→1/);
      assert.match(e.message, /nothing was written/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), []);
    const report = await client.prunePlan(job);
    assert.match(report.warnings[0], /more than 90% of their channels/);
    assert.ok(fs.existsSync(output));
  });

  it('the dialog\'s answers carry the normalizer, floor and rounding into the plan; unstructured ones do not', () => {
    const step = planFromRequest({ method: 'l1', amount: 0.3, scope: 'global', structured: true, normalizer: 'mean', maxRatio: 0.9, roundTo: 8 }).steps[0];
    assert.deepEqual([step.normalizer, step.max_ratio, step.round_to], ['mean', 0.9, 8]);
    const masks = planFromRequest({ method: 'l1', amount: 0.3, scope: 'global', structured: false, normalizer: 'mean', roundTo: 8 });
    assert.deepEqual(validatePlan(masks), []);
    assert.deepEqual([masks.steps[0].normalizer, masks.steps[0].round_to], [undefined, undefined]);
    assert.deepEqual(validatePlan(raw), []);
  });
});
