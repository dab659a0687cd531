// The validation worker for real: onnxruntime in a child process, the real
// models and data, crashes and cancellation provoked from here.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/analysis';
import { PruneLensError } from '../../../src/onnx/errors';
import { pruneStructuredFile } from '../../../src/pruning/structured';
import { WorkerClient, WorkerFailure, validate, type WorkProgress } from '../../../src/worker';
import type { ValidateJob } from '../../../src/worker/protocol';
import { VGG_BN_LAYERS, zeroLowestGammaChannels } from './bn';
import { buildWorker } from '../../helpers/worker';
import { ROOT, modelPath, tempDir } from '../../helpers/models';

const VGG = modelPath('digits_vgg_slim_s1e-2.onnx');
const LENET = modelPath('digits_lenet.onnx');
const RESNET18 = modelPath('resnet18_seed0_bn.onnx');

/** A job long enough to interrupt: resnet18 on CPU, one sample per batch. */
const LONG_JOB: ValidateJob = { original: RESNET18, pruned: RESNET18, samples: 400, batchSize: 1, warmup: 0, providers: ['cpu'] };
const SHORT_JOB: ValidateJob = { original: LENET, pruned: LENET, samples: 64, batchSize: 16, warmup: 1, providers: ['cpu'] };

/** CPU time (user + system, in clock ticks) a process has used so far; Linux only. */
function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('validation worker', function () {
  let workerPath: string;
  let client: WorkerClient;

  before(async () => {
    workerPath = await buildWorker();
  });
  beforeEach(() => {
    client = new WorkerClient({ workerPath });
  });
  afterEach(() => client.dispose());

  it('digits_vgg_slim_s1e-2 pruned 50% by BN gamma with the structured engine: 0.997 before, >= 0.99 after, smaller and fewer MACs', async () => {
    const pruned = path.join(tempDir('vgg-engine'), 'vgg_bn50_structured.onnx');
    await pruneStructuredFile(VGG, pruned, { criterion: 'bn-gamma', scope: 'global', ratio: 0.5, ignore: ['classifier.3'] });
    const report = await validate({
      original: VGG, pruned, data: modelPath('digits_val_x.npy'), labels: modelPath('digits_val_y.npy'), client,
      measure: async (file) => (await analyzeFile(file)).totals,
    });
    assert.equal(report.original.accuracy!.toFixed(3), '0.997');
    assert.ok(report.pruned.accuracy! >= 0.99, `pruned accuracy ${report.pruned.accuracy}`);
    assert.ok(report.pruned.macs < report.original.macs / 2, `MACs ${report.original.macs} -> ${report.pruned.macs}`);
    assert.ok(report.pruned.bytes < report.original.bytes && report.pruned.params < report.original.params);
  });

  it('digits_vgg_slim_s1e-2 with 50% of channels zeroed by BN gamma: 0.997 before, >= 0.99 after on digits_val', async () => {
    const dir = tempDir('vgg');
    const reference = JSON.parse(fs.readFileSync(modelPath('digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as { groups: { root: string; pruned_idxs: number[] }[] };
    const { bytes, zeroed } = zeroLowestGammaChannels(fs.readFileSync(VGG), VGG_BN_LAYERS, 0.5);
    // The same channels Torch-Pruning removes, counted per layer.
    const expected = VGG_BN_LAYERS.map((l) => reference.groups.find((g) => `${g.root.slice(0, -2)}.1` === l)!.pruned_idxs.length);
    assert.deepEqual(zeroed, expected);
    const pruned = path.join(dir, 'vgg_bn50.onnx');
    fs.writeFileSync(pruned, bytes);

    const events: WorkProgress[] = [];
    const report = await validate({
      original: VGG, pruned, data: modelPath('digits_val_x.npy'), labels: modelPath('digits_val_y.npy'),
      client, onProgress: (e) => events.push(e),
      measure: async (file) => (await analyzeFile(file)).totals,
    });
    assert.equal(report.samples, 360);
    assert.equal(report.original.accuracy!.toFixed(3), '0.997');
    assert.ok(report.pruned.accuracy! >= 0.99, `pruned accuracy ${report.pruned.accuracy}`);
    assert.ok(report.agreement >= 0.99 && report.agreement <= 1);
    assert.ok(report.maxAbsDiff > 0, 'the zeroed channels change the logits');
    assert.ok(report.cosine > 0.9 && report.cosine < 1, `cosine ${report.cosine}`);
    assert.ok(report.meanAbsDiff > 0 && report.meanAbsDiff <= report.maxAbsDiff);
    for (const side of [report.original, report.pruned]) {
      assert.ok(side.latency.p50 > 0 && side.latency.p95 >= side.latency.p50 && side.latency.throughput > 0);
      assert.equal(side.params, (await analyzeFile(side.file)).totals.params);
      assert.equal(side.bytes, fs.statSync(side.file).size);
      assert.ok(!('zeros' in side), 'only params and MACs are taken from the measure');
    }
    assert.equal(report.speedup, report.original.latency.p50 / report.pruned.latency.p50);
    // Providers are tried in order, each skip explained; the last attempt is the one that ran.
    assert.equal(report.attempts.at(-1)!.provider, report.provider);
    assert.ok(report.attempts.at(-1)!.ok);
    for (const a of report.attempts.slice(0, -1)) assert.ok(!a.ok && a.reason && a.reason.length > 10, JSON.stringify(a));
    assert.equal(events.filter((e) => e.samples).length, Math.ceil(360 / 32));
  });

  it('asking for CUDA on a machine without it ends on CPU, with the reason', async function () {
    if (process.platform !== 'linux') this.skip();
    const report = await validate({ original: LENET, pruned: LENET, samples: 32, providers: ['cuda'], client });
    assert.equal(report.provider, 'cpu');
    assert.equal(report.attempts[0].provider, 'cuda');
    assert.equal(report.attempts[0].ok, false);
    assert.match(report.attempts[0].reason!, /libonnxruntime_providers_cuda\.so is not installed.*cudaLibraryPath/);
  });

  it('with a cudaLibraryPath whose libraries do not load, CUDA is skipped with the loader failure and CPU runs', async function () {
    if (process.platform !== 'linux') this.skip();
    // Garbage in place of the provider libraries: ORT is pointed at them through the staging folder and fails to load them.
    const fake = tempDir('cuda');
    for (const lib of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']) fs.writeFileSync(path.join(fake, lib), 'not an ELF file');
    const cudaClient = new WorkerClient({ workerPath, cudaLibraryPath: fake });
    try {
      const report = await validate({ original: LENET, pruned: LENET, samples: 32, providers: ['cuda', 'cpu'], client: cudaClient });
      assert.equal(report.provider, 'cpu');
      assert.deepEqual(report.attempts.map((a) => [a.provider, a.ok]), [['cuda', false], ['cpu', true]]);
      assert.match(report.attempts[0].reason!, /original model: .*Failed to load shared library/);
    } finally {
      cudaClient.dispose();
    }
  });

  for (const [kind, corrupt] of [
    ['truncated', (b: Buffer) => b.subarray(0, Math.floor(b.length / 3))],
    ['random bytes', (b: Buffer) => { let s = 7; return Buffer.from(b.map(() => (s = (s * 1103515245 + 12345) >>> 0) >>> 24)); }],
  ] as const) {
    it(`a corrupt model (${kind}) gives an error naming the file, without hanging`, async () => {
      const bad = path.join(tempDir('corrupt'), 'bad.onnx');
      fs.writeFileSync(bad, corrupt(fs.readFileSync(LENET)));
      const started = Date.now();
      await assert.rejects(validate({ original: LENET, pruned: bad, samples: 8, client }), (e: Error) => {
        assert.ok(e instanceof PruneLensError);
        assert.ok(e.message.includes('bad.onnx'), e.message);
        return true;
      });
      assert.ok(Date.now() - started < 30_000);
      // The client is still usable.
      assert.equal((await client.validate(SHORT_JOB)).samples, 64);
    });
  }

  it('a worker killed mid-run (SIGKILL) is reported, and the next validation succeeds on a fresh worker', async () => {
    let killedPid: number | undefined;
    const failure = await client.validate(LONG_JOB, {
      onProgress: (e) => {
        if (e.samples && killedPid === undefined) {
          killedPid = client.pid!;
          process.kill(killedPid, 'SIGKILL');
        }
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(failure instanceof WorkerFailure, String(failure));
    assert.equal(failure.kind, 'crash');
    assert.match(failure.message, /killed by SIGKILL .*while running batches/);
    const result = await client.validate(SHORT_JOB);
    assert.equal(result.samples, 64);
    assert.equal(result.comparison.agreement, 1);
    assert.notEqual(client.pid, killedPid);
  });

  it('cancelling stops the worker between batches: prompt rejection, no more progress, no more CPU', async function () {
    const controller = new AbortController();
    let afterAbort = 0;
    let abortedAt = 0;
    const run = client.validate(LONG_JOB, {
      signal: controller.signal,
      onProgress: (e) => {
        if (abortedAt) afterAbort++;
        else if (e.samples?.done === 3) { abortedAt = Date.now(); controller.abort(); }
      },
    });
    const pid = await (async () => { while (!client.pid) await sleep(5); return client.pid; })();
    await assert.rejects(run, (e: Error) => e instanceof PruneLensError && e.code === 'cancelled' && !/killed/.test(e.message));
    const took = Date.now() - abortedAt;
    assert.ok(took < 1500, `cancel took ${took} ms`);
    assert.equal(afterAbort, 0);
    // The same worker stopped on its own (not killed) and is idle: it burns no CPU.
    assert.equal(client.pid, pid);
    if (fs.existsSync(`/proc/${pid}/stat`)) {
      const before = cpuTicks(pid);
      await sleep(500);
      assert.ok(cpuTicks(pid) - before <= 2, 'the worker kept computing after the cancel');
    }
    assert.equal((await client.validate(SHORT_JOB)).samples, 64);
  });

  it('a worker that ignores a cancel is killed after the grace period', async () => {
    const stubborn = new WorkerClient({ workerPath: path.join(ROOT, 'test', 'fixtures', 'worker', 'hanging-worker.js'), cancelGraceMs: 200, sessionTimeoutMs: 60_000 });
    const controller = new AbortController();
    const run = stubborn.validate({ ...SHORT_JOB, providers: ['cuda', 'cpu'] }, { signal: controller.signal, onProgress: () => controller.abort() });
    const started = Date.now();
    await assert.rejects(run, /cancelled \(the worker did not stop in time and was killed\)/);
    assert.ok(Date.now() - started < 2000);
    stubborn.dispose();
  });

  it('a provider whose session creation hangs is timed out, noted, and the next provider runs', async () => {
    const hanging = new WorkerClient({ workerPath: path.join(ROOT, 'test', 'fixtures', 'worker', 'hanging-worker.js'), sessionTimeoutMs: 300 });
    const started = Date.now();
    const report = await validate({ original: LENET, pruned: LENET, providers: ['cuda', 'webgpu', 'cpu'], client: hanging });
    assert.ok(Date.now() - started < 5000);
    assert.equal(report.provider, 'cpu');
    assert.deepEqual(report.attempts.map((a) => [a.provider, a.ok]), [['cuda', false], ['webgpu', false], ['cpu', true]]);
    assert.match(report.attempts[1].reason!, /creating the original model's session on webgpu did not finish within 0\.3 s/);
    hanging.dispose();
  });

  it('a missing worker script is a clear error, not a hang', async () => {
    const lost = new WorkerClient({ workerPath: path.join(tempDir('nowhere'), 'worker.js') });
    await assert.rejects(lost.validate(SHORT_JOB), /validation worker script is missing: .*worker\.js \(run the build\)/);
  });
});
