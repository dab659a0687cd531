// Folds every BatchNormalization that directly follows a Conv into that
// Conv's weight and bias, as torch.onnx.export does in eval mode with
// constant folding: the "folded export" of a BN-kept model, for tests.

import { attrFloat } from '../../src/onnx/attributes';
import { floatTensor } from '../../src/onnx/build';
import { GraphIndex } from '../../src/onnx/graph';
import type { OnnxModel } from '../../src/onnx/model';
import { tensorDims, tensorFloats } from '../../src/onnx/tensor';

/** Folds in place; returns how many BatchNormalization nodes went. */
export function foldBatchNorms(m: OnnxModel): number {
  const index = new GraphIndex(m.graph);
  const gone = new Set<object>();
  const rename = new Map<string, string>();
  for (const bn of index.nodes) {
    if (bn.op_type !== 'BatchNormalization') continue;
    const conv = index.producer(bn.input[0]);
    if (conv?.op_type !== 'Conv' || index.consumers(conv.output[0]).length !== 1) continue;
    const w = index.constant(conv.input[1]);
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => index.constant(bn.input[i]));
    if (!w || !gamma || !beta || !mean || !variance) continue;
    const dims = tensorDims(w.tensor);
    const weight = Float32Array.from(tensorFloats(w.tensor, m.external));
    const g = tensorFloats(gamma.tensor, m.external);
    const b = tensorFloats(beta.tensor, m.external);
    const mu = tensorFloats(mean.tensor, m.external);
    const v = tensorFloats(variance.tensor, m.external);
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const bias0 = conv.input[2] ? tensorFloats(index.constant(conv.input[2])!.tensor, m.external) : new Float32Array(dims[0]);
    const per = weight.length / dims[0];
    const bias = new Float32Array(dims[0]);
    for (let o = 0; o < dims[0]; o++) {
      const s = g[o] / Math.sqrt(v[o] + eps);
      for (let k = 0; k < per; k++) weight[o * per + k] *= s;
      bias[o] = (bias0[o] - mu[o]) * s + b[o];
    }
    const wName = `${conv.input[1]}_folded`;
    const bName = `${conv.input[1]}_folded_bias`;
    m.graph.initializer.push(floatTensor(wName, dims, weight), floatTensor(bName, [dims[0]], bias));
    conv.input = [conv.input[0], wName, bName];
    rename.set(bn.output[0], conv.output[0]);
    gone.add(bn);
  }
  m.graph.node = m.graph.node.filter((n) => !gone.has(n));
  for (const n of m.graph.node) n.input = n.input.map((i) => rename.get(i) ?? i);
  for (const o of m.graph.output) if (o.name && rename.has(o.name)) o.name = rename.get(o.name);
  const used = new Set(m.graph.node.flatMap((n) => n.input));
  m.graph.initializer = m.graph.initializer.filter((t) => used.has(t.name ?? ''));
  return gone.size;
}
