// Plans run against real models: layer selection and its errors (naming the
// step, the layer and the model), multi-step runs, custom masks from .npy
// files, the report, cancellation and saving.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModelSync, serializeModel } from '../../../../src/onnx/model';
import { concatChunks } from '../../../../src/onnx/wire';
import { outputPathFor, runPlan, savePruned, type PrunePlan } from '../../../../src/pruning/plan';
import { roundHalfEven } from '../../../../src/pruning/unstructured';
import { writeNpy } from '../../../../src/validation/npy';
import { accuracy, layer, load, tempDir, weights, zeros } from '../unstructured/helpers';

describe('plan: layer selection against the model', () => {
  it('an unknown layer names the step, the layer, the model and the known layers', async () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const plan: PrunePlan = { steps: [{ method: 'l1', amount: 0.1 }, { method: 'l1', amount: 0.2, layers: ['conv9'] }] };
    await assert.rejects(runPlan(model, plan), (e: Error) => {
      assert.equal(e.message,
        'step 2: layer `conv9` does not exist in digits_vgg_slim_s1e-2.onnx; known layers: '
        + 'features.0.0, features.1.0, features.3.0, features.4.0, classifier.1, classifier.3');
      return true;
    });
    assert.equal(zeros(weights(model, 'features.0.0')), 0, 'step 1 did not run: the plan is checked first');
  });

  it('a glob that matches nothing, and a step that selects nothing, are errors', async () => {
    const model = load('digits_lenet.onnx');
    await assert.rejects(runPlan(model, { steps: [{ method: 'l1', amount: 0.1, layers: ['features.*'] }] }),
      /step 1: pattern `features\.\*` matches no layer of digits_lenet\.onnx; known layers: conv1, conv2, fc1, fc2, fc3/);
    await assert.rejects(runPlan(model, { steps: [{ method: 'l1', amount: 0.1, ops: ['Conv'], ignore: ['conv*'] }] }),
      /step 1: selects no layer of digits_lenet\.onnx/);
  });

  it('layers answer to node names, module paths, weight names and globs; ops and ignore narrow them', async () => {
    const model = load('digits_resnet_slim_s1e-2.onnx');
    const report = await runPlan(model, {
      steps: [
        { method: 'l1', amount: 0.5, layers: ['layer1.*', '/stem/stem.0/Conv', 'fc.weight'], ignore: ['layer1.conv2'] },
        { method: 'l1', amount: 0.5, ops: ['Conv'], layers: ['layer2.*'], ignore: ['*down*'] },
      ],
    });
    const touched = (i: number) => report.steps![i].layers;
    assert.deepEqual(touched(0), ['/stem/stem.0/Conv', '/layer1/conv1/Conv', '/fc/Gemm']);
    assert.deepEqual(touched(1), ['/layer2/conv1/Conv', '/layer2/conv2/Conv']);
    assert.equal(zeros(weights(model, 'layer1.conv2')), 0);
    assert.equal(zeros(weights(model, 'layer2.down.0')), 0);
  });
});

describe('plan: running', () => {
  it('reproduces the LeNet reference and reports it per layer', async () => {
    const model = load('digits_lenet.onnx');
    const report = await runPlan(model, { steps: [{ method: 'l1', scope: 'global', amount: 0.2 }] });
    const ref = JSON.parse(fs.readFileSync(path.join(path.dirname(model.file!), 'digits_lenet_global_l1u_0.2.json'), 'utf8'));
    assert.equal(report.layers.length, 5);
    for (const l of report.layers) {
      const name = l.layer.split('/')[1];
      assert.equal(l.zerosAfter, ref[name].zeros, name);
      assert.equal(l.zerosBefore, 0);
      assert.equal(l.outAfter, l.outBefore);
      assert.equal(l.paramsAfter, l.paramsBefore);
      assert.ok(l.macsBefore > 0 && l.macsAfter === l.macsBefore);
    }
    assert.equal(report.totals.zerosAfter, ref._global.zeros);
    assert.equal(report.steps![0].zeroed, ref._global.zeros);
    assert.equal(report.structured, false);
    assert.equal(await accuracy(model), 0.925);
  });

  it('several steps on the same layers compound like torch PruningContainer', async () => {
    const model = load('digits_mlp.onnx');
    const report = await runPlan(model, {
      steps: [
        { method: 'l1', amount: 0.5, layers: ['net.3'] },
        { method: 'random', seed: 7, amount: 0.5, layers: ['net.3'] },
        { method: 'nm', nm: '1:4', layers: ['net.1', 'net.3'] },
      ],
    });
    const first = roundHalfEven(0.5 * 40000);
    const second = roundHalfEven(0.5 * (40000 - first));
    assert.deepEqual(report.steps!.map((s) => s.zeroed), [first, second, report.steps![2].zeroed]);
    // N:M after 75% sparsity: groups of 4 keep at most 1 nonzero; net.1 becomes exactly 25% dense.
    assert.equal(zeros(weights(model, 'net.1')), 12800 * 0.75);
    const w = weights(model, 'net.3');
    for (let i = 0; i < w.length; i += 4) assert.ok([0, 1, 2, 3].filter((j) => w[i + j] !== 0).length <= 1);
  });

  it('custom masks and importance come from .npy files next to the plan', async () => {
    const dir = tempDir();
    const mask = new Float32Array(840).map((_, i) => (i % 2 ? 1 : 0));
    writeNpy(path.join(dir, 'fc3_mask.npy'), 'float32', [10, 84], mask);
    const importance = new Float64Array(54).map((_, i) => 54 - i);
    writeNpy(path.join(dir, 'conv1_imp.npy'), 'float64', [6, 1, 3, 3], importance);
    const model = load('digits_lenet.onnx');
    await runPlan(model, {
      steps: [
        { method: 'custom', layers: ['fc3'], mask: 'fc3_mask.npy' },
        { method: 'custom', layers: ['conv1'], importance: { conv1: 'conv1_imp.npy' }, count: 10 },
      ],
    }, { baseDir: dir });
    const fc3 = weights(model, 'fc3');
    for (let i = 0; i < 840; i++) assert.equal(fc3[i] === 0, mask[i] === 0);
    // Importance falls with the index: the last 10 weights are the least important.
    const conv1 = weights(model, 'conv1');
    assert.deepEqual(Array.from(conv1, (v, i) => (v === 0 ? i : -1)).filter((i) => i >= 0), [44, 45, 46, 47, 48, 49, 50, 51, 52, 53]);
  });

  it('a mask of the wrong shape names the step, the layer and both shapes', async () => {
    const dir = tempDir();
    writeNpy(path.join(dir, 'm.npy'), 'float32', [84, 10], new Float32Array(840));
    await assert.rejects(runPlan(load('digits_lenet.onnx'), { steps: [{ method: 'custom', layers: ['fc3'], mask: 'm.npy' }] }, { baseDir: dir }),
      /step 1: mask m\.npy has shape \[84, 10\], but the weight fc3\.weight has shape \[10, 84\] \(layer fc3\)/);
    await assert.rejects(runPlan(load('digits_lenet.onnx'), { steps: [{ method: 'custom', layers: ['fc*'], mask: 'm.npy' }] }, { baseDir: dir }),
      /one mask file was given, but the step selects 3 layers/);
    await assert.rejects(runPlan(load('digits_lenet.onnx'), { steps: [{ method: 'custom', layers: ['fc3'], mask: 'missing.npy' }] }, { baseDir: dir }),
      /missing\.npy: file not found/);
  });

  it('warnings from the steps reach the report', async () => {
    const report = await runPlan(load('digits_vgg_slim_s1e-2.onnx'), { steps: [{ method: 'nm', nm: '2:4', ops: ['Conv'] }] });
    assert.deepEqual(report.warnings, ['step 1: layer features.0.0 skipped: its 1 input channels are not a multiple of M=4']);
  });

  it('stops between steps when cancelled, and reports progress', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const model = load('digits_lenet.onnx');
    await assert.rejects(runPlan(model, {
      steps: [{ method: 'l1', amount: 0.1 }, { method: 'l1', amount: 0.1, name: 'second' }],
    }, {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(`${p.step}/${p.steps} ${p.label}`);
        controller.abort();
      },
    }), /pruning was cancelled \(step 2\)/);
    assert.deepEqual(seen, ['0/2 l1, 10% of weights']);
  });

  it('saves the model and its report; never the source, never over a file without overwrite', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'digits_lenet.onnx');
    fs.copyFileSync(load('digits_lenet.onnx').file!, src);
    const model = loadModelSync(src);
    const report = await runPlan(model, { steps: [{ method: 'l1', amount: 0.3 }] });
    await assert.rejects(savePruned(model, report, src), /refusing to overwrite the original model/);
    const out = outputPathFor(src);
    assert.equal(out, path.join(dir, 'digits_lenet.pruned.onnx'));
    const saved = await savePruned(model, report, out);
    assert.equal(saved.output, out);
    assert.equal(saved.totals.bytesAfter, fs.statSync(out).size);
    const onDisk = JSON.parse(fs.readFileSync(`${out}.report.json`, 'utf8'));
    assert.deepEqual(onDisk, saved);
    await assert.rejects(savePruned(model, report, out), /already exists/);
    await savePruned(model, report, out, { overwrite: true });
    const pruned = loadModelSync(out);
    assert.equal(zeros(weights(pruned, 'fc1')), roundHalfEven(0.3 * 7680));
    assert.equal(layer(pruned, 'fc1').dims.join('x'), '120x64');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['digits_lenet.onnx', 'digits_lenet.pruned.onnx', 'digits_lenet.pruned.onnx.report.json']);
  });

  it('output patterns resolve against the model folder', () => {
    assert.equal(outputPathFor('/m/net.onnx', 'out/{name}.{plan}.onnx', '/plans/slim.prune.json'), '/m/out/net.slim.onnx');
    assert.equal(outputPathFor('/m/net.onnx'), '/m/net.pruned.onnx');
  });
});

describe('plan: structured steps go to the structured engine', () => {
  it('reproduces the Torch-Pruning BN-scale reference on the VGG, indices in the original numbering', async () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const ref = JSON.parse(fs.readFileSync(path.join(path.dirname(model.file!), 'digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as {
      groups: { root: string; pruned_idxs: number[] }[]; shapes: Record<string, number[]>;
    };
    // The reference ran with normalizer=None; a plan that says so keeps its result.
    const report = await runPlan(model, { steps: [{ method: 'bn-gamma', structured: true, scope: 'global', amount: 0.5, normalizer: 'none', ignore: ['classifier.3'] }] });
    for (const g of ref.groups) {
      const change = report.layers.find((l) => l.layer.endsWith(`/${g.root}/Conv`))!;
      assert.deepEqual(change.removed, [...g.pruned_idxs].sort((a, b) => a - b), g.root);
      assert.deepEqual(layer(model, g.root).dims, ref.shapes[g.root]);
    }
    assert.equal(report.structured, true);
    assert.deepEqual(report.frozen.map((f) => f.layers), [['classifier.3']]);
    assert.ok(await accuracy(model) >= 0.99);
  });

  it('reads the old spelling "gamma" as bn-gamma, byte for byte, and warns in the report', async () => {
    const step = { structured: true, scope: 'global' as const, amount: 0.5, ignore: ['classifier.3'] };
    const current = load('digits_vgg_slim_s1e-2.onnx');
    const old = load('digits_vgg_slim_s1e-2.onnx');
    const a = await runPlan(current, { steps: [{ method: 'bn-gamma', ...step }] });
    const b = await runPlan(old, JSON.parse(JSON.stringify({ steps: [{ method: 'gamma', ...step }] })) as PrunePlan);
    assert.ok(Buffer.from(concatChunks(serializeModel(current))).equals(Buffer.from(concatChunks(serializeModel(old)))));
    assert.deepEqual(b.layers, a.layers);
    assert.equal(b.method, 'bn-gamma');
    assert.deepEqual(a.warnings.filter((w) => /old spelling/.test(w)), []);
    assert.deepEqual(b.warnings.filter((w) => /old spelling/.test(w)), ['step 1: method "gamma" is the old spelling of "bn-gamma"; write "bn-gamma" (the old spelling will stop working in a later version)']);
  });

  it('a mask step after a structured step prunes the smaller layers; a second structured step reports original indices', async () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const report = await runPlan(model, {
      steps: [
        { method: 'l1', structured: true, amount: 0.25, layers: ['features.3.0'] },
        { method: 'l1', structured: true, amount: 0.5, layers: ['features.3.0'] },
        { method: 'l1', amount: 0.5, layers: ['features.3.0'] },
      ],
    });
    const change = report.layers.find((l) => l.layer.includes('features.3.0'))!;
    assert.equal(change.outAfter, 64 - 16 - 24);
    assert.equal(change.removed.length, 40);
    assert.equal(new Set(change.removed).size, 40, 'indices are distinct in the original numbering');
    assert.ok(change.removed.every((i) => i >= 0 && i < 64));
    assert.equal(zeros(weights(model, 'features.3.0')), roundHalfEven(0.5 * 24 * 32 * 9));
  });
});
