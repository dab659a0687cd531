// Pruning a language model in the worker: sparsegpt block by block with
// calibration token ids, progress per block, cancel, and the result validated
// there for perplexity (../shared/models/README.md has the torch reference).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from '../../../src/onnx/errors';
import { loadModelSync } from '../../../src/onnx/model';
import { runPlan, type PrunePlan } from '../../../src/pruning/plan';
import { openCalibration } from '../../../src/validation/activations';
import { WorkerClient, validate, type WorkProgress } from '../../../src/worker';
import { MODELS, modelPath as model, tempDir } from '../../helpers/models';
import { buildWorker } from '../../helpers/worker';

describe('worker jobs: language-model pruning', () => {
  let workerPath: string;
  before(async () => { workerPath = await buildWorker(); });

  it('the worker prunes with sparsegpt 2:4 block by block, and validates the result: perplexity near torch\'s 5.165', async () => {
    const client = new WorkerClient({ workerPath });
    try {
      const output = path.join(tempDir('lm-prune'), 'gpt.sparsegpt.onnx');
      const plan: PrunePlan = { steps: [{ method: 'sparsegpt', nm: '2:4', layers: ['h.*'], calibration: { data: 'lm_licenses_train_x.npy', size: 64 } }] };
      const events: WorkProgress[] = [];
      const report = await client.prunePlan({ model: model('lm_gpt_licenses.onnx'), plan, planBaseDir: MODELS, output }, { onProgress: (e) => events.push(e) });
      // Each block is announced, in order (calibration batch notes may follow a block's message).
      const blocks = events.map((e) => / block (\S+ \(\d+ of \d+\))/.exec(e.message)?.[1]).filter((b): b is string => !!b);
      assert.deepEqual([...new Set(blocks)], ['h.0 (1 of 4)', 'h.1 (2 of 4)', 'h.2 (3 of 4)', 'h.3 (4 of 4)']);
      assert.equal(report.layers.length, 24);
      // The same plan in this process prunes the same weights.
      const local = loadModelSync(model('lm_gpt_licenses.onnx'));
      const expected = await runPlan(local, plan, { baseDir: MODELS, calibrate: (m, c) => openCalibration(m, { data: c.data, size: c.size, batch: c.batch }) });
      assert.deepEqual(report.layers, expected.layers);

      const r = await validate({ original: model('lm_gpt_licenses.onnx'), pruned: output, data: model('lm_licenses_val_x.npy'),
        labels: model('lm_licenses_val_y.npy'), client, providers: ['cpu'], warmup: 0 });
      console.log(`      perplexity ${r.original.perplexity!.toFixed(3)} -> ${r.pruned.perplexity!.toFixed(3)}, next-token accuracy ${r.original.accuracy!.toFixed(3)} -> ${r.pruned.accuracy!.toFixed(3)}`);
      assert.equal(r.original.perplexity!.toFixed(3), '4.664');
      assert.ok(r.pruned.perplexity! <= 5.165 * 1.03, `${r.pruned.perplexity}`);
      assert.ok(r.pruned.accuracy! < r.original.accuracy!);
    } finally {
      client.dispose();
    }
  });

  it('a cancelled sparsegpt prune in the worker stops between blocks and leaves no file', async () => {
    const client = new WorkerClient({ workerPath });
    try {
      const dir = tempDir('lm-cancel');
      const plan: PrunePlan = { steps: [{ method: 'sparsegpt', amount: 0.5, layers: ['h.*'], calibration: { data: 'lm_licenses_train_x.npy', size: 32 } }] };
      const controller = new AbortController();
      let abortedAt = 0;
      const run = client.prunePlan({ model: model('lm_gpt_licenses.onnx'), plan, planBaseDir: MODELS, output: path.join(dir, 'gpt.onnx') }, {
        signal: controller.signal,
        onProgress: (e) => {
          if (!abortedAt && / block h\.1 /.test(e.message)) { abortedAt = Date.now(); controller.abort(); }
        },
      });
      await assert.rejects(run, (e: Error) => e instanceof PruneLensError && e.code === 'cancelled');
      assert.ok(abortedAt > 0, 'the second block started');
      assert.ok(Date.now() - abortedAt < 2000, `cancel took ${Date.now() - abortedAt} ms`);
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing written, not even a temporary file');
    } finally {
      client.dispose();
    }
  });

});
