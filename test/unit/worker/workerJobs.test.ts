// Pruning plans and sensitivity analysis run by the worker process: the real
// digits models, calibration and recovery in onnxruntime in the child, and
// cancellation and crashes provoked from here.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mock } from 'node:test';
import { loadModelSync } from '../../../src/onnx/model';
import { PruneLensError } from '../../../src/onnx/errors';
import { reportPathFor, runPlan, validatePlan, type PrunePlan } from '../../../src/pruning/plan';
import { analyzeSensitivity } from '../../../src/pruning/sensitivity';
import { WorkerClient, WorkerFailure, validate, type WorkProgress } from '../../../src/worker';
import { openCalibration } from '../../../src/validation/activations';
import { digitsAccuracy } from '../pruning/recovery/helpers';
import { buildWorker } from '../../helpers/worker';
import { MODELS, ROOT, modelPath, tempDir } from '../../helpers/models';

const RESNET = modelPath('digits_resnet_slim_s1e-2.onnx');
const VGG = modelPath('digits_vgg_slim_s1e-2.onnx');
const MLP = modelPath('digits_mlp.onnx');
const VAL = { data: modelPath('digits_val_x.npy'), labels: modelPath('digits_val_y.npy') };

/** Half the channels of every group by L1, refit by least squares on 256 training images. */
const RECOVERY_PLAN: PrunePlan = {
  steps: [{
    method: 'l1', structured: true, amount: 0.5, ignore: ['fc'],
    calibration: { data: 'digits_train_x.npy', size: 256 }, recovery: { method: 'least-squares' },
  }],
};
/** A quick job to show the client still works. */
const SMALL_PLAN: PrunePlan = { steps: [{ method: 'l1', amount: 0.3 }] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker jobs: pruning plans and sensitivity', function () {
  let workerPath: string;
  let client: WorkerClient;

  before(async () => {
    workerPath = await buildWorker();
  });
  beforeEach(() => {
    client = new WorkerClient({ workerPath });
  });
  afterEach(() => client.dispose());

  it('runs a structured L1 50% plan with least-squares recovery: the written model keeps >= 0.90 accuracy, the report has per-layer errors', async () => {
    const output = path.join(tempDir('prune'), 'resnet.pruned.onnx');
    const events: WorkProgress[] = [];
    const started = Date.now();
    const report = await client.prunePlan({ model: RESNET, plan: RECOVERY_PLAN, planBaseDir: MODELS, output }, { onProgress: (e) => events.push(e) });
    const took = Date.now() - started;

    // The same plan in this process gives the same prune (the worker adds nothing of its own).
    const local = loadModelSync(RESNET);
    const expected = await runPlan(local, RECOVERY_PLAN, {
      baseDir: MODELS, calibrate: (m, c) => openCalibration(m, { data: c.data, size: c.size, batch: c.batch }),
    });
    assert.deepEqual(report.layers, expected.layers);
    assert.deepEqual(report.recovery!.map((r) => r.layer), expected.recovery!.map((r) => r.layer));
    assert.ok(report.recovery!.length >= 4, `${report.recovery!.length} layers refit`);
    for (const r of report.recovery!) {
      assert.ok(r.errorAfter < r.errorBefore, `${r.layer}: ${r.errorBefore} -> ${r.errorAfter}`);
    }
    assert.ok(report.totals.macsAfter < report.totals.macsBefore * 0.6, 'half the channels take most MACs with them');

    // Written: the model and the report beside it, which is what came back.
    assert.equal(report.output, output);
    assert.equal(report.totals.bytesAfter, fs.statSync(output).size);
    assert.deepEqual(JSON.parse(fs.readFileSync(reportPathFor(output), 'utf8')), report);

    const check = await validate({ original: RESNET, pruned: output, ...VAL, client, providers: ['cpu'] });
    // Recovery did the work: the same prune without it loses most of the accuracy.
    const unrecovered = loadModelSync(RESNET);
    await runPlan(unrecovered, { steps: [{ ...RECOVERY_PLAN.steps[0], calibration: undefined, recovery: undefined }] });
    const without = await digitsAccuracy(unrecovered);
    console.log(`      worker prune + recovery in ${took} ms; accuracy ${check.original.accuracy} -> ${check.pruned.accuracy} (${without} without recovery)`);
    assert.ok(check.pruned.accuracy! >= 0.9, `pruned accuracy ${check.pruned.accuracy}`);
    assert.ok(without < check.pruned.accuracy! - 0.3, `without recovery ${without}`);

    // Progress: every phase, fractions from 0 to 1 never going back, each layer refit named.
    assert.deepEqual([...new Set(events.map((e) => e.stage))], ['load', 'prune', 'calibrate', 'recover', 'save']);
    assert.equal(events[0].fraction, 0);
    assert.equal(events.at(-1)!.fraction, 1);
    events.forEach((e, i) => assert.ok(i === 0 || e.fraction >= events[i - 1].fraction, `${e.message}: ${e.fraction}`));
    for (const r of report.recovery!) assert.ok(events.some((e) => e.stage === 'recover' && e.message.includes(`refitting ${r.layer}`)), r.layer);
  });

  it('cancelling during recovery rejects promptly, leaves no file, and the same client runs the next job', async () => {
    const dir = tempDir('cancel');
    const output = path.join(dir, 'resnet.pruned.onnx');
    const controller = new AbortController();
    let abortedAt = 0;
    let afterAbort = 0;
    const run = client.prunePlan({ model: RESNET, plan: RECOVERY_PLAN, planBaseDir: MODELS, output }, {
      signal: controller.signal,
      onProgress: (e) => {
        if (abortedAt) afterAbort++;
        // Once the first layer is refit: the model in the worker is half repaired.
        else if (e.stage === 'recover' && / \(2 of \d+\)/.test(e.message)) { abortedAt = Date.now(); controller.abort(); }
      },
    });
    const pid = await (async () => { while (!client.pid) await sleep(5); return client.pid; })();
    await assert.rejects(run, (e: Error) => e instanceof PruneLensError && e.code === 'cancelled' && !/killed/.test(e.message));
    const took = Date.now() - abortedAt;
    assert.ok(took < 1000, `cancel took ${took} ms`);
    assert.equal(afterAbort, 0);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing written, not even a temporary file');
    // The worker stopped on its own and serves the next job.
    assert.equal(client.pid, pid);
    const small = await client.prunePlan({ model: MLP, plan: SMALL_PLAN, planBaseDir: MODELS, output: path.join(dir, 'mlp.pruned.onnx') });
    assert.ok(small.totals.zerosAfter! > small.totals.zerosBefore!);
    assert.equal(client.pid, pid);
  });

  it('a worker killed (SIGKILL) during a prune is a WorkerFailure, and the next job gets a fresh worker', async () => {
    const dir = tempDir('kill');
    let killedPid: number | undefined;
    const failure = await client.prunePlan({ model: RESNET, plan: RECOVERY_PLAN, planBaseDir: MODELS, output: path.join(dir, 'resnet.pruned.onnx') }, {
      onProgress: (e) => {
        if (e.stage === 'recover' && killedPid === undefined) {
          killedPid = client.pid!;
          process.kill(killedPid, 'SIGKILL');
        }
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(failure instanceof WorkerFailure, String(failure));
    assert.equal(failure.kind, 'crash');
    assert.match(failure.message, /killed by SIGKILL .*while step 1\/1: .*refitting/);
    assert.ok(!fs.existsSync(path.join(dir, 'resnet.pruned.onnx')));
    const small = await client.prunePlan({ model: MLP, plan: SMALL_PLAN, planBaseDir: MODELS, output: path.join(dir, 'mlp.pruned.onnx') });
    assert.ok(fs.existsSync(small.output));
    assert.notEqual(client.pid, killedPid);
  });

  it('progress keeps the idle watchdog from firing on a long job; silence still trips it', async () => {
    // The client's clock is mocked: it moves only when this test moves it, so a
    // loaded machine (a slow fork, a late beat) cannot trip the watchdog, and
    // silence trips it at exactly 0.4 s.
    const IDLE_MS = 400;
    mock.timers.enable({ apis: ['setTimeout'] });
    const slow = new WorkerClient({ workerPath: path.join(ROOT, 'test', 'fixtures', 'worker', 'slow-prune-worker.js'), idleTimeoutMs: IDLE_MS });
    try {
      const job = { model: 'busy.onnx', plan: SMALL_PLAN, planBaseDir: MODELS, output: 'busy.pruned.onnx' };
      // Each event comes just before the watchdog would fire: the job outlives the idle timeout many times over.
      let clientMs = 0;
      let events = 0;
      const report = await slow.prunePlan(job, {
        onProgress: () => {
          events++;
          mock.timers.tick(IDLE_MS - 1);
          clientMs += IDLE_MS - 1;
        },
      });
      assert.equal(events, 15);
      assert.ok(clientMs >= 5 * IDLE_MS, `the job lasted ${clientMs} ms of the client's clock`);
      assert.equal(report.output, 'busy.pruned.onnx');

      // One event, then silence: not a millisecond short of the timeout does it fire, and then it does.
      let heard!: () => void;
      const firstEvent = new Promise<void>((resolve) => { heard = resolve; });
      let settled = false;
      const silent = slow.prunePlan({ ...job, model: 'silent.onnx' }, { onProgress: () => heard() })
        .then(() => undefined, (e: unknown) => e)
        .finally(() => { settled = true; });
      await firstEvent;
      mock.timers.tick(IDLE_MS - 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, false, 'the watchdog fired before the idle timeout');
      mock.timers.tick(1);
      const failure = await silent;
      assert.ok(failure instanceof WorkerFailure && failure.kind === 'timeout', String(failure));
      assert.match(failure.message, /sent nothing for 0\.4 s \(last: refitting\)/);
    } finally {
      mock.timers.reset();
      slow.dispose();
    }
  });

  it('refuses an existing output before doing any work, naming the file', async () => {
    const output = path.join(tempDir('exists'), 'taken.onnx');
    fs.writeFileSync(output, 'someone else\'s file');
    const events: WorkProgress[] = [];
    await assert.rejects(client.prunePlan({ model: RESNET, plan: RECOVERY_PLAN, planBaseDir: MODELS, output }, { onProgress: (e) => events.push(e) }),
      (e: Error) => e instanceof PruneLensError && e.code === 'io' && e.file === output && /already exists/.test(e.message));
    assert.equal(events.length, 0);
    assert.equal(fs.readFileSync(output, 'utf8'), 'someone else\'s file');
  });

  it('names the plan file when the plan does not fit the model', async () => {
    const planFile = path.join(MODELS, 'imaginary.prune.json');
    await assert.rejects(client.prunePlan({
      model: MLP, plan: { steps: [{ method: 'l1', amount: 0.5, layers: ['no_such_layer'] }] }, planBaseDir: MODELS, planFile,
      output: path.join(tempDir('plan'), 'mlp.pruned.onnx'),
    }), (e: Error) => e instanceof PruneLensError && e.code === 'plan' && e.file === planFile && /no_such_layer/.test(e.message));
  });

  it('measures sensitivity curves of digits_vgg_slim_s1e-2 equal to the in-process analysis, and writes the suggested plan', async () => {
    const dir = tempDir('sens');
    const planFile = path.join(dir, 'vgg.suggested.prune.json');
    const ratios = [0.3, 0.6];
    const events: WorkProgress[] = [];
    const { report, suggestion } = await client.sensitivity({
      model: VGG, ...VAL, ratios, batch: 120, suggest: { target: 0.3, output: planFile },
    }, { onProgress: (e) => events.push(e) });

    const local = loadModelSync(VGG);
    const expected = await analyzeSensitivity(local, await openCalibration(local, { ...VAL, size: Number.MAX_SAFE_INTEGER, batch: 120 }), { ratios });
    assert.equal(report.curves.length, 5);
    assert.equal(report.metricName, 'accuracy');
    assert.equal(report.baseline, expected.baseline);
    assert.deepEqual(report.curves, expected.curves);
    assert.ok(report.curves.every((c) => c.metric[1] <= c.metric[0] + 0.01), 'pruning more does not help');

    assert.ok(suggestion, 'a suggestion was asked for');
    assert.equal(suggestion.file, planFile);
    const written = JSON.parse(fs.readFileSync(planFile, 'utf8')) as PrunePlan;
    assert.deepEqual(written, suggestion.plan);
    assert.deepEqual(validatePlan(written).filter((i) => i.severity === 'error'), []);
    assert.ok(suggestion.macsReduction >= 0.3);

    assert.deepEqual([...new Set(events.map((e) => e.stage))], ['load', 'measure', 'suggest']);
    // One phase event per group; a slow machine adds "(batch i of n)" notes within a group, which don't count.
    assert.equal(events.filter((e) => e.stage === 'measure' && /^group \d of 5: [^(]*$/.test(e.message)).length, 5);
    events.forEach((e, i) => assert.ok(i === 0 || e.fraction >= events[i - 1].fraction));
    assert.equal(events.at(-1)!.fraction, 1);
  });

  it('cancelling sensitivity analysis between groups rejects promptly and writes no plan', async () => {
    const planFile = path.join(tempDir('sens-cancel'), 'vgg.suggested.prune.json');
    const controller = new AbortController();
    let abortedAt = 0;
    const run = client.sensitivity({ model: VGG, ...VAL, batch: 40, suggest: { target: 0.3, output: planFile } }, {
      signal: controller.signal,
      onProgress: (e) => {
        if (!abortedAt && e.stage === 'measure' && e.message.startsWith('group 2 of')) { abortedAt = Date.now(); controller.abort(); }
      },
    });
    await assert.rejects(run, (e: Error) => e instanceof PruneLensError && e.code === 'cancelled' && /sensitivity analysis cancelled$/.test(e.message));
    assert.ok(Date.now() - abortedAt < 1000, `cancel took ${Date.now() - abortedAt} ms`);
    assert.ok(!fs.existsSync(planFile));
  });
});
