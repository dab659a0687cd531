// The layer table against an independent, naive computation on every real
// model: weights found by walking the graph by hand, norms by plain nested
// loops over the weight values, gammas read from the BN's scale tensor.
// Then the cases real exports throw at it: weights in Constant nodes,
// initializers shared directly and through Identity, grouped convolutions.

import { strict as assert } from 'node:assert';
import { analyzeModel, findPrunableLayers, type ChannelNorms, type LayerInfo } from '../../../src/analysis';
import { attrInt } from '../../../src/onnx/attributes';
import { floatTensor, newGraph, newModel, newNode, newValueInfo } from '../../../src/onnx/build';
import { GraphIndex } from '../../../src/onnx/graph';
import { loadModelSync, OnnxModel } from '../../../src/onnx/model';
import type { GraphProto, NodeProto, TensorProto } from '../../../src/onnx/schema';
import { DataType, tensorFloats } from '../../../src/onnx/tensor';
import { modelPath, realModelNames, seededRandom } from '../../helpers/models';

const F = DataType.FLOAT;

/** The tensor behind a value name: initializer, Constant node, or either through Identity. */
function resolve(g: GraphProto, name: string): { tensor: TensorProto; holder: string } | undefined {
  for (let hops = 0; hops < 100; hops++) {
    const init = g.initializer.find((t) => t.name === name);
    if (init) return { tensor: init, holder: name };
    const p = g.node.find((n) => n.output.includes(name));
    if (p?.op_type === 'Constant') return { tensor: p.attribute.find((a) => a.name === 'value')!.t!, holder: name };
    if (p?.op_type !== 'Identity') return undefined;
    name = p.input[0];
  }
  return undefined;
}

interface Naive {
  node: NodeProto;
  weight: string;
  out: { l1: number[]; l2: number[] };
  in: { l1: number[]; l2: number[] };
  zeros: number;
  params: number;
  gamma?: number[];
}

/**
 * Per-channel norms with the layout of each op spelled out:
 * Conv W[out, in/g, k...], ConvTranspose W[in, out/g, k...], Gemm W[out, in] (transB) or W[in, out], MatMul W[in, out].
 */
function naiveLayer(g: GraphProto, node: NodeProto): Naive | undefined {
  const op = node.op_type!;
  const w = resolve(g, node.input[1]);
  if (!w) return undefined;
  const dims = w.tensor.dims.map(Number);
  const v = tensorFloats(w.tensor);
  const groups = op.startsWith('Conv') ? attrInt(node, 'group', 1) : 1;
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  const [d0, d1] = dims;
  // For each element, which output and which input channel it belongs to.
  let outOf: (i0: number, i1: number) => number;
  let inOf: (i0: number, i1: number) => number;
  let nOut: number;
  let nIn: number;
  if (op === 'Conv') {
    const perGroup = d0 / groups;
    outOf = (i0) => i0;
    inOf = (i0, i1) => Math.floor(i0 / perGroup) * d1 + i1;
    [nOut, nIn] = [d0, d1 * groups];
  } else if (op === 'ConvTranspose') {
    const perGroup = d0 / groups;
    outOf = (i0, i1) => Math.floor(i0 / perGroup) * d1 + i1;
    inOf = (i0) => i0;
    [nOut, nIn] = [d1 * groups, d0];
  } else if (op === 'Gemm' && attrInt(node, 'transB', 0) === 1) {
    outOf = (i0) => i0;
    inOf = (_, i1) => i1;
    [nOut, nIn] = [d0, d1];
  } else {
    outOf = (_, i1) => i1;
    inOf = (i0) => i0;
    [nOut, nIn] = [d1, d0];
  }
  const r: Naive = {
    node, weight: w.holder, zeros: 0, params: v.length,
    out: { l1: new Array(nOut).fill(0), l2: new Array(nOut).fill(0) },
    in: { l1: new Array(nIn).fill(0), l2: new Array(nIn).fill(0) },
  };
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let k = 0; k < inner; k++) {
        const x = v[(i0 * d1 + i1) * inner + k];
        const o = outOf(i0, i1);
        const c = inOf(i0, i1);
        r.out.l1[o] += Math.abs(x);
        r.out.l2[o] += x * x;
        r.in.l1[c] += Math.abs(x);
        r.in.l2[c] += x * x;
        if (x === 0) r.zeros++;
      }
    }
  }
  r.out.l2 = r.out.l2.map(Math.sqrt);
  r.in.l2 = r.in.l2.map(Math.sqrt);
  const bias = op !== 'MatMul' && node.input[2] ? resolve(g, node.input[2]) : undefined;
  if (bias) r.params += tensorFloats(bias.tensor).length;
  // The BN reading the output, possibly through Identity.
  let value = node.output[0];
  for (;;) {
    const users = g.node.filter((n) => n.input.includes(value));
    if (users.length !== 1) break;
    if (users[0].op_type === 'Identity') { value = users[0].output[0]; continue; }
    if (users[0].op_type === 'BatchNormalization' && users[0].input[0] === value) {
      r.gamma = Array.from(tensorFloats(resolve(g, users[0].input[1])!.tensor));
    }
    break;
  }
  return r;
}

function naiveLayers(g: GraphProto): Naive[] {
  return g.node.filter((n) => ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(n.op_type!))
    .map((n) => naiveLayer(g, n)).filter((l): l is Naive => !!l);
}

function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

function assertClose(actual: number[], expected: number[], what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(close(actual[i], expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function assertNorms(actual: ChannelNorms, expected: { l1: number[]; l2: number[] }, what: string) {
  assertClose(actual.l1, expected.l1, `${what}.l1`);
  assertClose(actual.l2, expected.l2, `${what}.l2`);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  assertClose(actual.l1Normalized, expected.l1.map((x) => x / mean(expected.l1)), `${what}.l1Normalized`);
  assertClose(actual.l2Normalized, expected.l2.map((x) => x / mean(expected.l2)), `${what}.l2Normalized`);
}

function assertMatchesNaive(layer: LayerInfo, n: Naive) {
  const what = layer.name;
  assert.equal(layer.weightName, n.weight, what);
  assertNorms(layer.out, n.out, `${what}.out`);
  assertNorms(layer.in, n.in, `${what}.in`);
  assert.equal(layer.outChannels, n.out.l1.length);
  assert.equal(layer.inChannels, n.in.l1.length);
  assert.equal(layer.zeros, n.zeros, `${what}.zeros`);
  assert.equal(layer.params, n.params, `${what}.params`);
  assert.deepEqual(layer.batchNorm?.gamma, n.gamma, `${what}.gamma`);
}

describe('analysis against a naive computation on the real models', () => {
  for (const name of realModelNames()) {
    it(name, function () {
      this.timeout(60_000);
      const m = loadModelSync(modelPath(name));
      const table = analyzeModel(m);
      const naive = naiveLayers(m.graph);
      assert.deepEqual(table.layers.map((l) => l.weightName), naive.map((n) => n.weight));
      table.layers.forEach((l, i) => assertMatchesNaive(l, naive[i]));

      // Totals: every float constant once, zeros over the prunable weights, the file's size.
      let params = 0;
      const count = (t: TensorProto) => t.dims.reduce<number>((a, b) => a * Number(b), 1);
      for (const t of m.graph.initializer) if (t.data_type === F) params += count(t);
      // Float Constant nodes (scalars such as LayerNorm's eps or GELU's 0.5) are constants too.
      for (const n of m.graph.node) {
        const t = n.op_type === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
        if (t?.data_type === F) params += count(t);
      }
      assert.equal(table.totals.params, params);
      const zeros = naive.reduce((s, n) => s + n.zeros, 0);
      const weights = table.layers.reduce((s, l) => s + l.weightShape.reduce((a, b) => a * b, 1), 0);
      assert.equal(table.totals.zeros, zeros);
      assert.ok(close(table.totals.sparsity, zeros / weights));
      assert.equal(table.totals.bytes, m.bytes.length);
      assert.equal(table.totals.macs, table.layers.reduce((s, l) => s + l.macs, 0));
    });
  }

  it('digits_vgg_slim_s1e-2: 4 Conv with gammas of 32, 32, 64, 64 and 2 Gemm without', () => {
    const t = analyzeModel(loadModelSync(modelPath('digits_vgg_slim_s1e-2.onnx')));
    assert.deepEqual(t.layers.map((l) => [l.op, l.batchNorm?.gamma.length]),
      [['Conv', 32], ['Conv', 32], ['Conv', 64], ['Conv', 64], ['Gemm', undefined], ['Gemm', undefined]]);
    assert.deepEqual(t.layers.map((l) => l.batchNorm?.scaleName), ['features.0.1.weight', 'features.1.1.weight', 'features.3.1.weight', 'features.4.1.weight', undefined, undefined]);
    // The slimming penalty left about 70% of the gammas near zero (README): a real property of the data.
    const gammas = t.layers.flatMap((l) => l.batchNorm?.gamma ?? []);
    const small = gammas.filter((g) => Math.abs(g) < 1e-2).length / gammas.length;
    assert.ok(small > 0.6 && small < 0.8, `${small}`);
  });

  it('digits_lenet has no BN: no layer claims a gamma', () => {
    const t = analyzeModel(loadModelSync(modelPath('digits_lenet.onnx')));
    assert.ok(t.layers.every((l) => l.batchNorm === undefined));
    assert.equal(t.totals.sparsity, 0);
  });
});

describe('analysis: shared and aliased weights in real exports', () => {
  it('digits_resnet_slim_s1e-2: Identity_0 re-exports layer2.bn2.bias as the downsample BN bias', () => {
    const m = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const index = new GraphIndex(m.graph);
    const id = m.graph.node.find((n) => n.name === 'Identity_0')!;
    assert.deepEqual([id.input[0], id.output[0]], ['layer2.bn2.bias', 'layer2.down.1.bias']);
    const c = index.constant('layer2.down.1.bias')!;
    assert.equal(c.kind, 'initializer');
    assert.equal(c.holder, 'layer2.bn2.bias');
    assert.equal(c.tensor, m.graph.initializer.find((t) => t.name === 'layer2.bn2.bias'));
    assert.deepEqual(c.via, [id]);
    // The downsample BN consumes the alias.
    const bn = index.consumers('layer2.down.1.bias');
    assert.deepEqual(bn.map((n) => [n.op_type, n.input.indexOf('layer2.down.1.bias')]), [['BatchNormalization', 2]]);
  });

  it('resnet18: all 72 Identity nodes resolve to the very initializer objects they alias', () => {
    const m = loadModelSync(modelPath('resnet18_seed0_bn.onnx'));
    const index = new GraphIndex(m.graph);
    const ids = m.graph.node.filter((n) => n.op_type === 'Identity');
    assert.equal(ids.length, 72);
    for (const id of ids) {
      const c = index.constant(id.output[0]);
      assert.ok(c, `${id.name} does not resolve`);
      assert.equal(c.tensor, m.graph.initializer.find((t) => t.name === id.input[0]), id.name);
      assert.deepEqual(c.via, [id]);
    }
    // Layers whose BN gamma is such an alias get the shared tensor's values.
    const t = analyzeModel(m);
    const aliased = t.layers.filter((l) => {
      const bn = m.graph.node.find((n) => n.name === l.batchNorm?.node);
      return bn && bn.input[1] !== l.batchNorm!.scaleName;
    });
    assert.ok(aliased.length > 0, 'no BN reads its gamma through an Identity');
    for (const l of t.layers.filter((x) => x.batchNorm)) {
      const shared = m.graph.initializer.find((x) => x.name === l.batchNorm!.scaleName)!;
      assert.deepEqual(l.batchNorm!.gamma, Array.from(tensorFloats(shared)), l.name);
    }
  });
});

describe('analysis: synthetic graphs', () => {
  const rand = seededRandom(5);
  const values = (n: number) => Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 100) / 100);

  it('weights in Constant nodes, a BN gamma from a Constant, and a weight shared directly and through Identity', () => {
    const wConst = values(8 * 4 * 9);
    const gamma = values(8);
    const shared = values(8 * 8);
    const nodes = [
      newNode('Constant', [], ['W'], 'W', { value: floatTensor('W', [8, 4, 3, 3], wConst) }),
      newNode('Constant', [], ['G'], 'G', { value: floatTensor('G', [8], gamma) }),
      newNode('Conv', ['x', 'W'], ['a'], 'conv_a', { pads: [1, 1, 1, 1] }),
      newNode('Identity', ['a'], ['a_id'], 'a_id'),
      newNode('BatchNormalization', ['a_id', 'G', 'beta', 'mean', 'var'], ['bn'], 'bn'),
      newNode('Relu', ['bn'], ['r'], 'relu'),
      newNode('Conv', ['r', 'S'], ['b'], 'conv_b'),
      newNode('Identity', ['S'], ['S_alias'], 'S_alias'),
      newNode('Conv', ['r', 'S_alias'], ['c'], 'conv_c'),
      newNode('Add', ['b', 'c'], ['y'], 'add'),
    ];
    const inits = [floatTensor('S', [8, 8, 1, 1], shared), floatTensor('beta', [8], values(8)),
      floatTensor('mean', [8], values(8)), floatTensor('var', [8], values(8).map(Math.abs))];
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('x', F, ['N', 4, 6, 6])],
      [newValueInfo('y', F, ['N', 8, 6, 6])], inits)), new Uint8Array(100));

    const found = findPrunableLayers(new GraphIndex(model.graph));
    assert.deepEqual(found.map((l) => [l.name, l.weight.kind, l.weight.holder, l.weight.via.length]),
      [['conv_a', 'constant-node', 'W', 0], ['conv_b', 'initializer', 'S', 0], ['conv_c', 'initializer', 'S', 1]]);

    const t = analyzeModel(model);
    naiveLayers(model.graph).forEach((n, i) => assertMatchesNaive(t.layers[i], n));
    assert.deepEqual(t.layers[0].batchNorm, { node: 'bn', scaleName: 'G', gamma: Array.from(Float32Array.from(gamma)) });
    assert.equal(t.layers[0].macs, 8 * 4 * 9 * 36);
    // S counts once although two layers use it; Constant-node tensors count too.
    assert.equal(t.totals.params, 8 * 4 * 9 + 8 + 64 + 3 * 8);
  });

  it('grouped and depthwise Conv, grouped ConvTranspose: per-input-channel norms land on the right channels', () => {
    // Conv group 2: W[4, 3, 1, 1] over 6 input channels. W[o][i] = o * 10 + i + 1, all positive.
    const grouped = Array.from({ length: 12 }, (_, k) => Math.floor(k / 3) * 10 + (k % 3) + 1);
    // ConvTranspose group 2: W[4 in, 3 out/g, 1, 1] → 6 outputs.
    const nodes = [
      newNode('Conv', ['x', 'Wg'], ['g'], 'grouped', { group: 2 }),
      newNode('Conv', ['x', 'Wd'], ['d'], 'depthwise', { group: 6, pads: [1, 1, 1, 1] }),
      newNode('ConvTranspose', ['g', 'Wt'], ['t'], 'deconv', { group: 2 }),
    ];
    const depthwise = values(6 * 9);
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('x', F, [1, 6, 5, 5])], [],
      [floatTensor('Wg', [4, 3, 1, 1], grouped), floatTensor('Wd', [6, 1, 3, 3], depthwise), floatTensor('Wt', [4, 3, 1, 1], grouped)])),
    new Uint8Array());
    const [g, d, t] = analyzeModel(model).layers;
    // Input channel c of group 0 (c < 3) is read by filters 0 and 1; of group 1 by filters 2 and 3.
    assert.deepEqual(g.in.l1, [1 + 11, 2 + 12, 3 + 13, 21 + 31, 22 + 32, 23 + 33]);
    assert.deepEqual(g.out.l1, [1 + 2 + 3, 11 + 12 + 13, 21 + 22 + 23, 31 + 32 + 33]);
    assert.equal(g.inChannels, 6);
    // Depthwise: each input channel feeds exactly its own filter.
    assert.deepEqual(d.in.l1, d.out.l1);
    assert.deepEqual(d.in.l2, d.out.l2);
    assert.equal(d.inChannels, 6);
    // ConvTranspose: output j of group 0 comes from inputs 0 and 1; of group 1 from inputs 2 and 3.
    assert.deepEqual(t.out.l1, [1 + 11, 2 + 12, 3 + 13, 21 + 31, 22 + 32, 23 + 33]);
    assert.deepEqual(t.in.l1, [6, 36, 66, 96]);
    assert.equal(t.outChannels, 6);
    naiveLayers(model.graph).forEach((n, i) => assertMatchesNaive(analyzeModel(model).layers[i], n));
  });

  it('Gemm without transB and MatMul read their weights as [in, out]; MatMul on a computed value is not a layer', () => {
    const nodes = [
      newNode('Gemm', ['x', 'A'], ['h'], 'fc'),
      newNode('MatMul', ['h', 'B'], ['y'], 'proj'),
      newNode('MatMul', ['y', 'y_t'], ['z'], 'attention'),
      newNode('Transpose', ['y'], ['y_t'], 't'),
    ];
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('x', F, ['N', 4])], [],
      [floatTensor('A', [4, 3], values(12)), floatTensor('B', [3, 5], values(15))])), new Uint8Array());
    const t = analyzeModel(model);
    assert.deepEqual(t.layers.map((l) => [l.name, l.inChannels, l.outChannels, l.macs]), [['fc', 4, 3, 12], ['proj', 3, 5, 15]]);
    naiveLayers(model.graph).forEach((n, i) => assertMatchesNaive(t.layers[i], n));
  });
});
