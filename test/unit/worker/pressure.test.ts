// The worker under pressure: a memory budget that a model and batch size
// exceed ends the job with "ran out of memory at batch K; try a smaller batch
// size", and the next request works; and a worker started for an untrusted
// workspace never loads onnxruntime (native code), while plain pruning still runs.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { PruneLensError } from '../../../src/onnx/errors';
import { WorkerClient, type WorkProgress } from '../../../src/worker';
import type { ValidateJob } from '../../../src/worker/protocol';
import { buildWorker } from '../../helpers/worker';
import { modelPath, ROOT, tempDir } from '../../helpers/models';

const SHUFFLENET = modelPath('shufflenet_dyn.onnx');
const LENET = modelPath('digits_lenet.onnx');

describe('worker under pressure', function () {
  this.timeout(300_000);
  let workerPath: string;
  let client: WorkerClient | undefined;
  before(async () => {
    workerPath = await buildWorker();
  });
  afterEach(() => client?.dispose());

  it('shufflenet_dyn at batch 512 past a 256 MiB budget: "ran out of memory at batch 1; try a smaller batch size", then batch 4 works', async () => {
    // Measured on this machine (peak resident size of the worker): batch 4 about 100 MiB, batch 256 about 355 MiB.
    client = new WorkerClient({ workerPath, memoryLimitMb: 256 });
    const events: WorkProgress[] = [];
    let pid: number | undefined;
    const error = await client.validate({ original: SHUFFLENET, pruned: SHUFFLENET, samples: 512, batchSize: 512, warmup: 0, providers: ['cpu'] }, {
      onProgress: (e) => {
        events.push(e);
        pid ??= client!.pid;
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof PruneLensError, `expected the memory error, got ${String(error)}`);
    assert.equal(error.code, 'memory');
    assert.equal(error.message, 'ran out of memory at batch 1; try a smaller batch size');
    assert.ok(events.some((e) => e.batch === 1), 'batch 1 was announced');
    // The worker that ran out is gone; the next request, with a batch that fits, runs on a fresh one.
    assert.notEqual(pid, undefined);
    const ok = await client.validate({ original: SHUFFLENET, pruned: SHUFFLENET, samples: 8, batchSize: 4, warmup: 0, providers: ['cpu'] });
    assert.equal(ok.samples, 8);
    assert.notEqual(client.pid, pid);
  });

  it('a worker whose JavaScript heap runs out (V8 fatal error, no answer): "ran out of memory at batch 3", and the next request works', async () => {
    client = new WorkerClient({ workerPath: path.join(ROOT, 'test', 'fixtures', 'worker', 'heap-hog-worker.js'), memoryLimitMb: 64 });
    const job: ValidateJob = { original: LENET, pruned: LENET, samples: 512, batchSize: 128, warmup: 0, providers: ['cpu'] };
    const error = await client.validate(job).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof PruneLensError, String(error));
    assert.equal(error.code, 'memory');
    assert.equal(error.message, 'ran out of memory at batch 3; try a smaller batch size');
    const ok = await client.validate({ ...job, batchSize: 4 });
    assert.equal(ok.provider, 'cpu');
  });

  it('without native code allowed (an untrusted workspace): validation is refused with the reason, plain pruning runs', async () => {
    client = new WorkerClient({ workerPath, allowNative: false });
    const error = await client.validate({ original: LENET, pruned: LENET, samples: 16, batchSize: 16, warmup: 0, providers: ['cpu'] }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof PruneLensError);
    assert.equal(error.code, 'unsupported');
    assert.match(error.message, /onnxruntime \(native code\) is not loaded while the workspace is not trusted/);
    const output = path.join(tempDir('untrusted'), 'lenet.pruned.onnx');
    const report = await client.prunePlan({ model: LENET, plan: { steps: [{ method: 'l1', structured: true, amount: 0.25, ignore: ['fc3'] }] }, planBaseDir: path.dirname(LENET), output });
    assert.ok(report.totals.paramsAfter < report.totals.paramsBefore);
    const calibrated = await client.prunePlan({
      model: LENET, planBaseDir: path.dirname(LENET), output: `${output}.2.onnx`,
      plan: { steps: [{ method: 'wanda', structured: true, amount: 0.25, calibration: { data: modelPath('digits_train_x.npy'), size: 16 } }] },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(calibrated instanceof PruneLensError && calibrated.code === 'unsupported', String(calibrated));
  });
});
