// `prune-lens prune` end to end on a real model, in process: the output loads
// in onnxruntime-node and computes, the original file is untouched (hash before
// and after), and the terminal and JSON outputs say what happened.

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pruneCommand } from '../../../../src/cli/prune';
import { loadModelSync } from '../../../../src/onnx/model';
import type { PruneReport } from '../../../../src/pruning/report';
import { accuracy, tempDir, weights, zeros } from '../unstructured/helpers';
import { modelPath, tempDir as sharedTempDir } from '../../../helpers/models';

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await pruneCommand(argv, (s) => lines.push(s));
  return { code, text: lines.join('\n') };
}

describe('cli: prune-lens prune', () => {
  let dir: string;
  let model: string;
  let hash: string;
  beforeEach(() => {
    dir = tempDir();
    model = path.join(dir, 'digits_lenet.onnx');
    fs.copyFileSync(modelPath('digits_lenet.onnx'), model);
    hash = sha(model);
  });
  afterEach(() => assert.equal(sha(model), hash, 'the original model changed'));

  it('applies a plan file: a model onnxruntime runs, a report, the original untouched', async () => {
    const plan = path.join(dir, 'reference.prune.json');
    fs.writeFileSync(plan, JSON.stringify({ steps: [{ method: 'l1', scope: 'global', amount: 0.2 }] }, null, 2));
    const { code, text } = await run([model, '--plan', plan]);
    assert.equal(code, 0);
    const out = path.join(dir, 'digits_lenet.pruned.onnx');
    const pruned = fs.readFileSync(out);
    assert.equal(await accuracy(pruned), 0.925);
    const report = JSON.parse(fs.readFileSync(`${out}.report.json`, 'utf8')) as PruneReport;
    assert.equal(report.source, model);
    assert.equal(report.output, out);
    assert.equal(report.totals.zerosAfter, 3904);
    assert.match(text, /step 1: l1, global, 20% of weights: 5 layers, 3904 set to zero/);
    assert.match(text, /fc2\s+Gemm\s+120→84 .* 0 → 2284\s+22\.7%/);
  });

  it('shortcut flags make a one-step plan; --json prints the report; -o picks the file', async () => {
    const out = path.join(dir, 'sub.onnx');
    const { text } = await run([model, '--method', 'l1', '--amount', '0.5', '--op', 'Gemm', '--ignore', 'fc3', '-o', out, '--json']);
    const report = JSON.parse(text) as PruneReport;
    assert.deepEqual(report.layers.map((l) => l.layer), ['/fc1/Gemm', '/fc2/Gemm']);
    assert.deepEqual(report.layers.map((l) => l.zerosAfter), [3840, 5040]);
    const pruned = loadModelSync(out);
    assert.ok(fs.existsSync(`${out}.report.json`));
    assert.equal(zeros(weights(pruned, 'fc3')), 0);
  });

  it('never overwrites an existing output without --force', async () => {
    await run([model, '--method', 'random', '--amount', '0.1', '--seed', '3']);
    const out = path.join(dir, 'digits_lenet.pruned.onnx');
    const first = sha(out);
    await assert.rejects(run([model, '--method', 'random', '--amount', '0.5', '--seed', '3']), /digits_lenet\.pruned\.onnx: the output file already exists/);
    assert.equal(sha(out), first);
    await run([model, '--method', 'random', '--amount', '0.5', '--seed', '3', '--force']);
    assert.notEqual(sha(out), first);
    await assert.rejects(run([model, '--method', 'l1', '--amount', '0.1', '-o', model, '--force']), /refusing to overwrite the original model/);
  });

  it('bad flags and bad plans fail with a usable message and write nothing', async () => {
    await assert.rejects(run([model]), /give --plan FILE, or --method/);
    await assert.rejects(run([model, '--method', 'l1']), /method l1 needs exactly one of --amount \(a fraction\) or --count/);
    await assert.rejects(run([model, '--method', 'l1', '--amount', 'half']), /--amount half is not a number/);
    await assert.rejects(run([model, '--method', 'l1', '--amount', '0.2', '--layers', 'conv9']),
      /step 1: layer `conv9` does not exist in digits_lenet\.onnx; known layers: conv1, conv2, fc1, fc2, fc3/);
    await assert.rejects(run([model, '--bogus']), /Unknown option '--bogus'/);
    const plan = path.join(dir, 'broken.prune.json');
    fs.writeFileSync(plan, '{\n  "steps": [\n    { "method": "l1", "amount": 0.2, }\n  ]\n}\n');
    await assert.rejects(run([model, '--plan', plan]), /broken\.prune\.json: invalid JSON at line 3, column 38: expected a "quoted" property name/);
    await assert.rejects(run([model, '--plan', plan, '--amount', '0.3']), /--plan cannot be combined with --amount/);
    fs.writeFileSync(plan, JSON.stringify({ steps: [{ method: 'l1', amount: 0.2 }, { method: 'l1', amount: 0.2, layers: ['conv9'] }] }));
    await assert.rejects(run([model, '--plan', plan]), /broken\.prune\.json: step 2: layer `conv9` does not exist in digits_lenet\.onnx/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['broken.prune.json', 'digits_lenet.onnx']);
  });

  it('calibration and recovery flags are checked like the plan fields, in the words of the flags', async () => {
    const l1 = [model, '--method', 'l1', '--amount', '0.5', '--structured'];
    await assert.rejects(run([...l1, '--recovery', 'least-squares']), /recovery needs calibration data: add --calibration FILE/);
    await assert.rejects(run([...l1, '--recovery', 'bn']), /--recovery bn is not one of none, least-squares, bias-compensation, bn-recalibration/);
    await assert.rejects(run([...l1, '--calibration-size', '64']), /--calibration-size needs --calibration FILE/);
    await assert.rejects(run([...l1, '--calibration', 'x.npy', '--calibration-size', '0']), /--calibration-size must be a positive integer \(got 0\)/);
    await assert.rejects(run([model, '--method', 'l1', '--amount', '0.5', '--calibration', 'x.npy', '--recovery', 'least-squares']),
      /recovery repairs structured steps; add --structured/);
    await assert.rejects(run([model, '--method', 'wanda', '--amount', '0.5', '--structured']), /method wanda ranks channels by their activations; add --calibration FILE/);
    assert.deepEqual(fs.readdirSync(dir), ['digits_lenet.onnx']);
  });
});

describe('cli: prune-lens prune with calibration and recovery flags', () => {
  it('--structured --calibration X.npy --recovery least-squares gives, byte for byte, what the same plan from a file gives', async () => {
    const dir = tempDir();
    const model = path.join(dir, 'resnet.onnx');
    fs.copyFileSync(modelPath('digits_resnet_slim_s1e-2.onnx'), model);
    const data = modelPath('digits_train_x.npy');
    const fromFlags = path.join(dir, 'flags.onnx');
    const flags = await run([model, '--method', 'l1', '--amount', '0.5', '--structured', '--calibration', data, '--recovery', 'least-squares', '-o', fromFlags]);
    assert.equal(flags.code, 0);
    assert.match(flags.text, /recovery: \d+ layers refit on the calibration data/);

    const plan = path.join(dir, 'same.prune.json');
    fs.writeFileSync(plan, JSON.stringify({ steps: [{ method: 'l1', amount: 0.5, structured: true, calibration: { data }, recovery: { method: 'least-squares' } }] }));
    const fromPlan = path.join(dir, 'plan.onnx');
    assert.equal((await run([model, '--plan', plan, '-o', fromPlan])).code, 0);

    assert.ok(fs.readFileSync(fromFlags).equals(fs.readFileSync(fromPlan)), 'the two pruned models differ');
    const report = (f: string) => ({ ...(JSON.parse(fs.readFileSync(`${f}.report.json`, 'utf8')) as PruneReport), output: '' });
    const flagged = report(fromFlags);
    assert.deepEqual(flagged, report(fromPlan));
    // It did prune and recover: half the channels gone, refit layers closer to their original outputs.
    assert.ok(flagged.totals.paramsAfter < flagged.totals.paramsBefore * 0.5, `${flagged.totals.paramsBefore} -> ${flagged.totals.paramsAfter}`);
    assert.ok(flagged.recovery!.length > 0);
    for (const r of flagged.recovery!) assert.ok(r.errorAfter < r.errorBefore, `${r.layer}: ${r.errorBefore} -> ${r.errorAfter}`);
  });
});

describe('cli: prune-lens prune with calibration data (wanda, sparsegpt)', () => {
  it('--method wanda --nm 2:4 --calibration: every block Linear at 2:4, lm_head kept, the same as the plan', async () => {
    const dir = sharedTempDir('cli-wanda');
    const out = path.join(dir, 'llama.wanda.onnx');
    const { code, text } = await run([modelPath('lm_llama_licenses.onnx'), '--method', 'wanda', '--nm', '2:4', '--layers', 'layers.*',
      '--calibration', modelPath('lm_licenses_train_x.npy'), '--calibration-size', '16', '-o', out, '--json']);
    assert.equal(code, 0);
    const report = JSON.parse(text) as PruneReport;
    assert.equal(report.method, 'wanda');
    assert.equal(report.layers.length, 28);
    for (const l of report.layers) assert.equal(l.zerosAfter, l.paramsAfter / 2, l.layer);
    const pruned = loadModelSync(out);
    assert.equal(zeros(weights(pruned, 'lm_head')), 0, 'lm_head is not pruned');
    const plan = path.join(dir, 'wanda.prune.json');
    fs.writeFileSync(plan, JSON.stringify({ steps: [{ method: 'wanda', nm: '2:4', layers: ['layers.*'], calibration: { data: modelPath('lm_licenses_train_x.npy'), size: 16 } }] }));
    const fromPlan = path.join(dir, 'llama.plan.onnx');
    assert.equal((await run([modelPath('lm_llama_licenses.onnx'), '--plan', plan, '-o', fromPlan])).code, 0);
    assert.ok(fs.readFileSync(fromPlan).equals(fs.readFileSync(out)), 'the flags and the plan file write the same model');
  });

  it('says what is missing', async () => {
    await assert.rejects(run([modelPath('lm_llama_licenses.onnx'), '--method', 'sparsegpt', '--amount', '0.5']),
      /method sparsegpt measures each layer's inputs; add --calibration FILE/);
    await assert.rejects(run([modelPath('lm_llama_licenses.onnx'), '--method', 'l1', '--amount', '0.5', '--calibration-size', '8']),
      /--calibration-size needs --calibration/);
  });
});
