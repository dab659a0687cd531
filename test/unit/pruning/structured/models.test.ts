// Structured pruning of the real models: the Torch-Pruning reference on the
// slimming VGG, 50% L1 on both ResNets, chosen widths on the MLP, and a model
// saved to disk that never replaces its source.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, loadModelSync } from '../../../../src/onnx/model';
import { tensorDims, tensorFloats } from '../../../../src/onnx/tensor';
import { analyzeModel } from '../../../../src/analysis';
import { GraphIndex } from '../../../../src/onnx/graph';
import { buildDependencyGraph, pruneStructured, pruneStructuredFile } from '../../../../src/pruning/structured';
import { accuracy, bytesOf, digitsVal, randomFeed, readNpyLabels, reparse, run } from './helpers';
import { modelPath } from '../../../helpers/models';
import { inferShapes } from '../../../../src/onnx/shapes';
import { newValueInfo } from '../../../../src/onnx/build';

interface Reference {
  groups: { root: string; pruned_idxs: number[]; members: string[] }[];
  shapes: Record<string, number[]>;
  acc_after_no_finetune: number;
}

const weightDims = (m: ReturnType<typeof loadModelSync>, name: string) => {
  const c = new GraphIndex(m.graph).constant(name);
  assert.ok(c, `${name} is in the pruned model`);
  return tensorDims(c.tensor);
};

describe('structured pruning of the real models', function () {
  it('matches Torch-Pruning on digits_vgg_slim_s1e-2 (BN scale, global, 50%, final Linear ignored)', async () => {
    const ref = JSON.parse(fs.readFileSync(modelPath('digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as Reference;
    const m = loadModelSync(modelPath('digits_vgg_slim_s1e-2.onnx'));
    const { report, graph } = pruneStructured(m, {
      criterion: 'bn-gamma', scope: 'global', ratio: 0.5, normalizer: 'none', ignore: ['classifier.3'],
    });
    for (const g of ref.groups) {
      const layer = report.layers.find((l) => graph.layers.some((lc) => lc.layer.name === l.layer && lc.layer.displayName === g.root));
      assert.ok(layer, `layer ${g.root} is in the report`);
      assert.deepEqual(layer.removed, g.pruned_idxs, `removed channels of ${g.root}`);
      const group = graph.groups.find((x) => x.roots.includes(g.root))!;
      for (const member of g.members) {
        assert.ok(group.members.some((d) => d.startsWith(`${member} `)), `${member} is a member of the ${g.root} group`);
      }
    }
    // Groups without a BatchNorm have no BN-scale importance and stay whole, as in Torch-Pruning.
    const unscored = report.layers.filter((l) => !l.removed.length).map((l) => l.layer);
    assert.equal(unscored.length, 2);
    for (const [module, shape] of Object.entries(ref.shapes)) assert.deepEqual(weightDims(m, `${module}.weight`), shape, module);
    const out = await run(bytesOf(m), [digitsVal()]);
    const acc = accuracy(out.logits, readNpyLabels(modelPath('digits_val_y.npy')), 10);
    assert.ok(Math.abs(acc - ref.acc_after_no_finetune) < 1e-6, `accuracy ${acc}, reference ${ref.acc_after_no_finetune}`);
  });

  for (const [name, feed] of [
    ['digits_resnet_slim_s1e-2.onnx', () => digitsVal()],
    ['resnet18_seed0_bn.onnx', () => randomFeed('input', [1, 3, 224, 224])],
  ] as const) {
    it(`${name}: 50% of channels by L1 gives a valid, smaller model with residual channels kept consistent`, async () => {
      const m = loadModelSync(modelPath(name));
      const originalBytes = bytesOf(m);
      const { report, graph } = pruneStructured(m, { criterion: 'l1', ratio: 0.5 });
      const residual = graph.groups.filter((g) => !g.frozen && g.roots.length > 1);
      assert.ok(residual.length >= 2, 'residual Adds tie several convs into one group');
      for (const g of residual) {
        const cuts = g.rootNodes.map((n) => report.layers.find((l) => l.layer === n)!);
        for (const c of cuts) {
          assert.deepEqual(c.removed, cuts[0].removed, `${c.layer} loses the same channels as ${cuts[0].layer}`);
          assert.equal(c.outAfter, Math.floor(c.outBefore / 2));
        }
      }
      assert.ok(report.totals.paramsAfter < report.totals.paramsBefore * 0.4, `${report.totals.paramsAfter} of ${report.totals.paramsBefore} params left`);
      assert.ok(report.totals.macsAfter < report.totals.macsBefore * 0.4);
      const pruned = bytesOf(m);
      assert.ok(pruned.length < originalBytes.length * 0.4);
      const f = feed();
      const [a, b] = [await run(originalBytes, [f]), await run(pruned, [f])];
      assert.equal(b.logits.length, a.logits.length, 'the output keeps its shape');
      assert.ok(b.logits.every(Number.isFinite));
    });
  }

  it('digits_mlp: prunes each hidden layer to a chosen width, keeping the strongest neurons', async () => {
    const original = loadModelSync(modelPath('digits_mlp.onnx'));
    const norms = analyzeModel(original).layers.map((l) => l.out.l2);
    const m = loadModelSync(modelPath('digits_mlp.onnx'));
    const { report } = pruneStructured(m, { criterion: 'l2', keep: { 'net.1': 50, 'net.3': 100 } });
    assert.deepEqual(report.layers.map((l) => [l.outAfter, l.inAfter]), [[50, 64], [100, 50], [10, 100]]);
    report.layers.slice(0, 2).forEach((l, i) => {
      const keptNorms = norms[i].filter((_, c) => !l.removed.includes(c));
      const removedMax = Math.max(...l.removed.map((c) => norms[i][c]));
      assert.ok(Math.min(...keptNorms) >= removedMax, `${l.layer} keeps the neurons with the largest L2 norm`);
    });
    // The kept rows of net.1 are the original rows, bit for bit.
    const before = tensorFloats(new GraphIndex(original.graph).constant('net.1.weight')!.tensor);
    const after = tensorFloats(new GraphIndex(m.graph).constant('net.1.weight')!.tensor);
    const keptRows = norms[0].map((_, c) => c).filter((c) => !report.layers[0].removed.includes(c));
    keptRows.forEach((c, r) => assert.deepEqual(after.subarray(r * 64, (r + 1) * 64), before.subarray(c * 64, (c + 1) * 64)));
    const out = await run(bytesOf(m), [digitsVal()]);
    assert.equal(out.logits.length, 360 * 10);
  });

  it('writes a new file atomically and refuses to replace the source', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-structured-'));
    try {
      const src = path.join(dir, 'lenet.onnx');
      fs.copyFileSync(modelPath('digits_lenet.onnx'), src);
      const out = path.join(dir, 'lenet.pruned.onnx');
      const report = await pruneStructuredFile(src, out, { ratio: 0.5 });
      assert.equal(report.output, out);
      assert.equal(report.totals.bytesAfter, fs.statSync(out).size);
      assert.ok(report.totals.bytesAfter < report.totals.bytesBefore);
      const reread = await loadModel(out);
      assert.ok(reread.graph.node.length > 0);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['lenet.onnx', 'lenet.pruned.onnx'], 'no temporary file is left');
      await assert.rejects(pruneStructuredFile(src, src, { ratio: 0.5, overwrite: true }), /refusing to overwrite the original/);
      assert.deepEqual(fs.readFileSync(src), fs.readFileSync(modelPath('digits_lenet.onnx')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports ignored layers and output layers as frozen, with the reason', () => {
    const m = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const graph = buildDependencyGraph(m, { ignore: ['layer1.conv1'] });
    const ignored = graph.groups.find((g) => g.roots.includes('layer1.conv1'))!;
    assert.match(ignored.frozen!, /layer1\.conv1 is ignored/);
    const fc = graph.groups.find((g) => g.roots.includes('fc'))!;
    assert.match(fc.frozen!, /graph output logits/);
    const { report } = pruneStructured(loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx')), { ratio: 0.5, ignore: ['layer1.conv1'] });
    const conv1 = report.layers.find((l) => l.layer === '/layer1/conv1/Conv')!;
    assert.equal(conv1.outAfter, conv1.outBefore, 'an ignored layer keeps all its filters');
    assert.ok(report.frozen.some((f) => f.layers.includes('layer1.conv1')));
  });

  it('updates value_info to the new channel counts and leaves graph inputs and outputs alone', async () => {
    const m = loadModelSync(modelPath('digits_vgg_slim_s1e-2.onnx'));
    // Declare every intermediate value, as exporters with shape inference do.
    for (const [name, s] of inferShapes(m).shapes) {
      if (s.dims && !m.graph.initializer.some((t) => t.name === name) && name !== 'input' && name !== 'logits') {
        m.graph.value_info.push(newValueInfo(name, s.elemType, s.dims));
      }
    }
    const declared = reparse(m);
    pruneStructured(declared, { criterion: 'bn-gamma', scope: 'global', ratio: 0.5, ignore: ['classifier.3'] });
    const after = inferShapes(reparse(declared), undefined);
    let changed = 0;
    for (const v of declared.graph.value_info) {
      const dims = v.type!.tensor_type!.shape!.dim.map((d) => d.dim_value ?? d.dim_param);
      assert.deepEqual(dims.map(String), after.shapes.get(v.name!)!.dims!.map(String), v.name);
      if (dims[1] !== m.graph.value_info.find((x) => x.name === v.name)!.type!.tensor_type!.shape!.dim[1].dim_value) changed++;
    }
    assert.ok(changed >= 12, `${changed} declarations follow the cut`);
    assert.deepEqual(declared.graph.input.map((v) => v.type!.tensor_type!.shape!.dim.map((d) => d.dim_value ?? d.dim_param)), [['N', 1, 8, 8]]);
    assert.deepEqual(declared.graph.output.map((v) => v.type!.tensor_type!.shape!.dim.map((d) => d.dim_value ?? d.dim_param)), [['N', 10]]);
    const out = await run(bytesOf(declared), [digitsVal()]);
    assert.equal(out.logits.length, 3600);
  });
});
