import * as assert from 'node:assert/strict';
import { findPrunableLayers } from '../../../../src/analysis/layers';
import { floatTensor, newGraph, newModel, newNode, newValueInfo } from '../../../../src/onnx/build';
import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModelSync, parseModel, serializeModel, type OnnxModel } from '../../../../src/onnx/model';
import { DataType, tensorFloats } from '../../../../src/onnx/tensor';
import { concatChunks } from '../../../../src/onnx/wire';
import { reconstruct } from '../../../../src/pruning/recovery/reconstruct';
import { recalibrateBatchNorms } from '../../../../src/pruning/recovery/batchnorm';
import { pruneStructured, type StructuredOptions } from '../../../../src/pruning/structured';
import { openCalibration } from '../../../../src/validation/activations';
import { seededRandom } from '../../../../src/validation/datasets';
import { digitsAccuracy } from './helpers';
import { modelPath } from '../../../helpers/models';

const TRAIN = modelPath('digits_train_x.npy');

/** Conv (2 groups, stride, asymmetric pads, dilation, bias) → Relu → Flatten → Gemm (transB 0, alpha, beta). */
function syntheticModel(): OnnxModel {
  const rand = seededRandom(3);
  const values = (n: number) => Array.from({ length: n }, () => rand() * 2 - 1);
  const conv = newNode('Conv', ['x', 'conv.weight', 'conv.bias'], ['c'], 'conv', {
    group: 2, strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2], kernel_shape: [3, 2],
  });
  // x [N,4,7,6] → c [N,6,4,5] with these settings.
  const graph = newGraph('synthetic', [
    conv,
    newNode('Relu', ['c'], ['r'], 'relu'),
    newNode('Flatten', ['r'], ['f'], 'flatten'),
    newNode('Gemm', ['f', 'fc.weight', 'fc.bias'], ['y'], 'fc', { alpha: { float: 2 }, beta: { float: 0.5 } }),
  ], [newValueInfo('x', DataType.FLOAT, ['N', 4, 7, 6])], [newValueInfo('y', DataType.FLOAT, ['N', 3])], [
    floatTensor('conv.weight', [6, 2, 3, 2], values(72)),
    floatTensor('conv.bias', [6], values(6)),
    floatTensor('fc.weight', [120, 3], values(360)),
    floatTensor('fc.bias', [3], values(3)),
  ]);
  return parseModel(concatChunks(serializeModel(newModel(graph))));
}

/** Conv → Add(a per-channel value computed from the input, broadcast over H×W) → Relu: the addend is no residual branch. */
function broadcastAddModel(): OnnxModel {
  const rand = seededRandom(5);
  const values = (n: number) => Array.from({ length: n }, () => rand() * 2 - 1);
  const graph = newGraph('broadcast-add', [
    newNode('Conv', ['x', 'conv.weight', 'conv.bias'], ['c'], 'conv', { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
    newNode('GlobalAveragePool', ['x'], ['g'], 'pool'),
    newNode('Conv', ['g', 'gate.weight'], ['q'], 'gate', { kernel_shape: [1, 1] }),
    newNode('Add', ['c', 'q'], ['a'], 'add'),
    newNode('Relu', ['a'], ['y'], 'relu'),
  ], [newValueInfo('x', DataType.FLOAT, ['N', 2, 5, 5])], [newValueInfo('y', DataType.FLOAT, ['N', 3, 5, 5])], [
    floatTensor('conv.weight', [3, 2, 3, 3], values(54)),
    floatTensor('conv.bias', [3], values(3)),
    floatTensor('gate.weight', [3, 2, 1, 1], values(6)),
  ]);
  return parseModel(concatChunks(serializeModel(newModel(graph))));
}

function weights(m: OnnxModel, name: string): Float32Array {
  const t = m.graph.initializer.find((i) => i.name === name);
  assert.ok(t, `initializer ${name}`);
  return tensorFloats(t, m.external);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function prunedPair(file: string, options: StructuredOptions) {
  const original = loadModelSync(modelPath(file));
  const pruned = loadModelSync(modelPath(file));
  const { report } = pruneStructured(pruned, { criterion: 'l1', scope: 'local', ...options });
  return { original, pruned, removed: new Map(report.layers.map((l) => [l.layer, l.removed])) };
}

describe('recovery: least-squares reconstruction', () => {
  it('reproduces a layer whose inputs were not pruned exactly (λ → 0, full data): conv geometry and Gemm layout', async () => {
    const original = syntheticModel();
    const damaged = syntheticModel();
    // Scramble both layers' weights and biases; the fit must find the originals again.
    for (const t of damaged.graph.initializer) t.raw_data = new Uint8Array(Float32Array.from(tensorFloats(t), (v, i) => v * 0.3 + (i % 5) * 0.1).buffer);
    const source = await openCalibration(original, { size: 320, batch: 64, seed: 1 });
    // Plain least squares (no ReLU passes): this checks the geometry and layout; the passes are checked below.
    const result = await reconstruct(original, damaged, source, { ridge: 0, reluPasses: 0, removed: new Map(), layers: ['conv', 'fc'] });
    assert.deepEqual(result.map((r) => r.layer), ['conv', 'fc']);
    for (const r of result) {
      assert.ok(r.errorBefore > 0.01, `${r.layer} starts off (${r.errorBefore})`);
      assert.ok(r.errorAfter < 1e-8, `${r.layer} is matched exactly (${r.errorAfter})`);
    }
    for (const name of ['conv.weight', 'conv.bias', 'fc.weight', 'fc.bias']) {
      const d = maxAbsDiff(weights(damaged, name), weights(original, name));
      assert.ok(d < 2e-4, `${name} differs by ${d}`);
    }
  });

  it('the ReLU passes keep an exact fit exact: the original weights are a fixed point (conv → Relu)', async () => {
    const original = syntheticModel();
    const damaged = syntheticModel();
    for (const t of damaged.graph.initializer) t.raw_data = new Uint8Array(Float32Array.from(tensorFloats(t), (v, i) => v * 0.3 + (i % 5) * 0.1).buffer);
    const source = await openCalibration(original, { size: 320, batch: 64, seed: 1 });
    const result = await reconstruct(original, damaged, source, { ridge: 0, reluPasses: 3, removed: new Map(), layers: ['conv'] });
    assert.ok(result[0].errorAfter < 1e-8, `conv is matched exactly (${result[0].errorAfter})`);
    for (const name of ['conv.weight', 'conv.bias']) {
      const d = maxAbsDiff(weights(damaged, name), weights(original, name));
      assert.ok(d < 1e-6, `${name} differs by ${d}`);
    }
  });

  it('a broadcast addend before the ReLU is no residual branch: the layer keeps the plain fit', async () => {
    const original = broadcastAddModel();
    const source = await openCalibration(original, { size: 64, batch: 32, seed: 2 });
    const fitted: Float32Array[] = [];
    for (const reluPasses of [0, 3]) {
      const damaged = broadcastAddModel();
      const w = damaged.graph.initializer.find((t) => t.name === 'conv.weight')!;
      w.raw_data = new Uint8Array(Float32Array.from(tensorFloats(w), (v, i) => v * 0.5 + (i % 3) * 0.1).buffer);
      await reconstruct(original, damaged, source, { ridge: 1e-3, reluPasses, removed: new Map(), layers: ['conv'] });
      fitted.push(weights(damaged, 'conv.weight'));
    }
    assert.deepEqual(Array.from(fitted[1]), Array.from(fitted[0]));
  });

  it('digits MLP pruned to widths 100 and 100 comes back to within 0.01 of its unpruned accuracy', async function () {
    const { original, pruned, removed } = await prunedPair('digits_mlp.onnx', { keep: { 'net.1': 100, 'net.3': 100 } });
    const base = await digitsAccuracy(original);
    const cut = await digitsAccuracy(pruned);
    const source = await openCalibration(original, { data: TRAIN, size: 256 });
    const rec = await reconstruct(original, pruned, source, { removed });
    const after = await digitsAccuracy(pruned);
    console.log(`      digits_mlp 100/100: unpruned ${base.toFixed(3)}, pruned ${cut.toFixed(3)}, reconstructed ${after.toFixed(3)}`);
    assert.ok(Math.abs(after - base) <= 0.01, `reconstructed ${after} vs unpruned ${base}`);
    assert.ok(cut < after, 'pruning alone loses accuracy');
    assert.deepEqual(rec.map((r) => r.layer), ['/net/net.3/Gemm', '/net/net.5/Gemm']);
    for (const r of rec) assert.ok(r.errorAfter < r.errorBefore / 10, `${r.layer}: ${r.errorBefore} → ${r.errorAfter}`);
  });

  it('digits ResNet at 50% of channels (L1, local, fc kept) keeps ≥ 0.922 accuracy (a plain torch refit) with reconstruction on 256 training images', async function () {
    const { original, pruned, removed } = await prunedPair('digits_resnet_slim_s1e-2.onnx', { ratio: 0.5, ignore: ['fc'] });
    const channels = findPrunableLayers(new GraphIndex(pruned.graph)).map((l) => l.dims[l.outAxis]);
    assert.deepEqual(channels, [8, 8, 8, 16, 16, 16, 10], 'half of every prunable group is gone');
    const cut = await digitsAccuracy(pruned);
    const source = await openCalibration(original, { data: TRAIN, size: 256 });
    assert.equal(source.samples, 256);
    const rec = await reconstruct(original, pruned, source, { removed });
    const after = await digitsAccuracy(pruned);
    console.log(`      digits_resnet 50% L1: unpruned ${(await digitsAccuracy(original)).toFixed(3)}, pruned ${cut.toFixed(3)}, reconstructed ${after.toFixed(3)}`);
    for (const r of rec) console.log(`        ${r.layer}: error ${r.errorBefore.toFixed(3)} → ${r.errorAfter.toFixed(3)}`);
    // 0.922 is what a plain torch least-squares refit of the same prune gets; the ReLU passes are what beats it.
    assert.ok(after >= 0.922, `reconstructed accuracy ${after}`);
    assert.ok(cut < 0.5, `without reconstruction it should land far lower, got ${cut}`);
    assert.equal(rec.length, 6, 'every layer that lost input channels is refit (not the stem)');
    for (const r of rec) assert.ok(r.errorAfter < r.errorBefore, `${r.layer}: ${r.errorBefore} → ${r.errorAfter}`);
    // Shapes and ops are unchanged by the refit; the pruned model still loads and runs (accuracy above).
    assert.deepEqual(findPrunableLayers(new GraphIndex(pruned.graph)).map((l) => l.dims[l.outAxis]), channels);
  });

  it('digits ResNet at 50%: the ReLU passes beat plain least squares, and a 10× larger ridge no longer collapses the fit', async function () {
    const source = await openCalibration(loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx')), { data: TRAIN, size: 256 });
    const accuracy = async (opts: { ridge?: number; reluPasses?: number }) => {
      const { original, pruned, removed } = await prunedPair('digits_resnet_slim_s1e-2.onnx', { ratio: 0.5, ignore: ['fc'] });
      await reconstruct(original, pruned, source, { removed, ...opts });
      return digitsAccuracy(pruned);
    };
    const plain = await accuracy({ reluPasses: 0 });
    const passes = await accuracy({});
    // The bias column's diagonal (the row count) used to set the ridge scale: on these activations (E[x²] ≈ 3e-4)
    // λ = 1e-2 acted like 0.5 and the refit fell to 0.73.
    const strong = await accuracy({ ridge: 1e-2, reluPasses: 0 });
    console.log(`      digits_resnet 50% L1: plain least squares ${plain.toFixed(3)}, with ReLU passes ${passes.toFixed(3)}, plain at ridge 1e-2 ${strong.toFixed(3)}`);
    assert.ok(passes > plain + 0.02, `${plain} → ${passes}`);
    assert.ok(strong >= 0.9, `ridge 1e-2: ${strong}`);
  });

  it('BN recalibration alone recomputes running statistics: the 50% ResNet recovers part of its accuracy, the unpruned one keeps it', async () => {
    const { original, pruned } = await prunedPair('digits_resnet_slim_s1e-2.onnx', { ratio: 0.5, ignore: ['fc'] });
    const source = await openCalibration(original, { data: TRAIN, size: 256 });
    const cut = await digitsAccuracy(pruned);
    assert.equal((await recalibrateBatchNorms(pruned, source)).length, 6);
    const after = await digitsAccuracy(pruned);
    console.log(`      digits_resnet 50% L1: pruned ${cut.toFixed(3)}, BN recalibrated ${after.toFixed(3)}`);
    assert.ok(after > cut + 0.1, `${cut} → ${after}`);
    assert.ok(await digitsAccuracy(await recalibrated(source)) >= 0.98);
  });
});

async function recalibrated(source: Awaited<ReturnType<typeof openCalibration>>): Promise<OnnxModel> {
  const m = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
  await recalibrateBatchNorms(m, source);
  return m;
}
