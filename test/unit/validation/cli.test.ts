import { strict as assert } from 'node:assert';
import { validateCommand } from '../../../src/cli/validate';
import type { ValidationReport } from '../../../src/validation';
import { buildWorker } from '../../helpers/worker';
import { modelPath } from '../../helpers/models';

describe('prune-lens validate', () => {
  let workerPath: string;
  before(async () => { workerPath = await buildWorker(); });

  const run = async (argv: string[]) => {
    const lines: string[] = [];
    const code = await validateCommand(argv, (s) => lines.push(s), { workerPath });
    return { code, text: lines.join('\n') };
  };

  it('--json prints the report for scripts', async () => {
    const { code, text } = await run([modelPath('digits_lenet.onnx'), modelPath('digits_lenet.onnx'), '--data', modelPath('digits_val_x.npy'),
      '--labels', modelPath('digits_val_y.npy'), '--ep', 'cpu', '--batch', '40', '--json']);
    assert.equal(code, 0);
    const report = JSON.parse(text) as ValidationReport;
    assert.equal(report.samples, 360);
    assert.equal(report.batchSize, 40);
    assert.equal(report.provider, 'cpu');
    assert.equal(report.original.accuracy!.toFixed(3), '0.925');
    assert.equal(report.agreement, 1);
    assert.equal(report.maxAbsDiff, 0);
    assert.ok(report.original.params > 0 && report.original.macs > 0, 'params and MACs come from the analysis');
  });

  it('prints a readable table in a terminal', async () => {
    const { code, text } = await run([modelPath('digits_lenet.onnx'), modelPath('digits_mlp.onnx'), '--samples', '64', '--ep', 'cuda,cpu']);
    assert.equal(code, 0);
    assert.match(text, /^data {6}generated \(seed 0\): 64 samples in batches of 32$/m);
    assert.match(text, /^provider {2}cpu$/m);
    assert.match(text, /^ {2}cuda skipped: /m);
    assert.match(text, /^latency p50 \/ batch +\d+\.\d+ ms +\d+\.\d+ ms/m);
    assert.match(text, /^top-1 agreement \d+\.\d%/m);
    assert.doesNotMatch(text, /^accuracy/m, 'no labels, no accuracy row');
  });

  it('--memory-limit: shufflenet_dyn at --batch 512 past 256 MiB ends with "ran out of memory at batch 1"', async () => {
    // The worker's peak resident size at batch 256 is about 355 MiB (test/unit/worker/pressure.test.ts).
    await assert.rejects(run([modelPath('shufflenet_dyn.onnx'), modelPath('shufflenet_dyn.onnx'), '--samples', '512', '--batch', '512', '--warmup', '0', '--ep', 'cpu', '--memory-limit', '256']),
      (e: Error) => e.message === 'ran out of memory at batch 1; try a smaller batch size');
  });

  it('rejects bad arguments with the usage', async () => {
    await assert.rejects(run([modelPath('digits_lenet.onnx')]), /give ORIGINAL and PRUNED models\nusage: prune-lens validate/);
    await assert.rejects(run(['a.onnx', 'b.onnx', '--batch', '0']), /--batch must be an integer of at least 1, not '0'/);
    await assert.rejects(run(['a.onnx', 'b.onnx', '--ep', 'tpu']), /unknown execution provider 'tpu'/);
    await assert.rejects(run(['a.onnx', 'b.onnx', '--memory-limit', '8']), /--memory-limit must be an integer of at least 64, not '8'/);
    await assert.rejects(run(['a.onnx', 'b.onnx', '--frobnicate']), /unknown option --frobnicate/);
  });
});
