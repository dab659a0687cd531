// LayerNorm and RMSNorm, as the op and as the exporters write them out:
//   LayerNorm  x → ReduceMean → Sub → Pow(2) → ReduceMean → Add(eps) → Sqrt → Div → Mul(γ) → Add(β)
//   RMSNorm    x → Pow(2) → ReduceMean → Add(eps) → Sqrt → Div(1, ·) | Reciprocal → Mul(x) → Mul(γ)
// A decomposed norm is found from its Sqrt, the one node every variant has.
// BatchNormalization is not here: its gammas belong to the layer before it.

import type { GraphIndex } from '../onnx/graph';
import type { OnnxModel } from '../onnx/model';
import type { NodeProto } from '../onnx/schema';
import { tensorDims, tensorFloats } from '../onnx/tensor';
import { moduleOfParameter, scopePath } from './names';
import type { NormInfo, NormKind } from './types';

export function findNorms(model: OnnxModel, index: GraphIndex): NormInfo[] {
  const out: NormInfo[] = [];
  for (const node of index.nodes) {
    const op = node.op_type ?? '';
    if (op === 'LayerNormalization' || op === 'RMSNormalization' || op === 'SimplifiedLayerNormalization') {
      const kind: NormKind = op === 'LayerNormalization' ? 'LayerNorm' : 'RMSNorm';
      const norm = describe(model, index, node, kind, false, node.input[1], op === 'LayerNormalization' ? node.input[2] : undefined);
      if (norm) out.push(norm);
    } else if (op === 'Sqrt') {
      const norm = decomposed(model, index, node);
      if (norm) out.push(norm);
    }
  }
  return out;
}

function producer(index: GraphIndex, value: string | undefined, op: string): NodeProto | undefined {
  const p = value ? index.producer(value) : undefined;
  return p?.op_type === op ? p : undefined;
}

/** The operand of a binary node that is not `value`. */
function other(node: NodeProto, value: string): string | undefined {
  return node.input[0] === value ? node.input[1] : node.input[1] === value ? node.input[0] : undefined;
}

function onlyConsumer(index: GraphIndex, value: string | undefined, ops: string[]): NodeProto | undefined {
  const users = value ? index.consumers(value) : [];
  return users.length === 1 && ops.includes(users[0].op_type ?? '') ? users[0] : undefined;
}

function decomposed(model: OnnxModel, index: GraphIndex, sqrt: NodeProto): NormInfo | undefined {
  // Sqrt(Add(ReduceMean(Pow(y, 2)), eps))
  const add = producer(index, sqrt.input[0], 'Add');
  const mean = add && [add.input[0], add.input[1]].map((v) => producer(index, v, 'ReduceMean')).find(Boolean);
  const pow = mean && producer(index, mean.input[0], 'Pow');
  if (!pow || !index.constant(pow.input[1] ?? '')) return undefined;
  const y = pow.input[0];
  // y = Sub(x, ReduceMean(x)) for LayerNorm; y = x for RMSNorm.
  const sub = producer(index, y, 'Sub');
  const kind: NormKind = sub && producer(index, sub.input[1], 'ReduceMean')?.input[0] === sub.input[0] ? 'LayerNorm' : 'RMSNorm';
  // The normalised value: Div(y, sqrt), or Mul(y, Div(1, sqrt) | Reciprocal(sqrt)).
  const after = onlyConsumer(index, sqrt.output[0], ['Div', 'Reciprocal']);
  if (!after) return undefined;
  let normalized: string | undefined;
  if (after.op_type === 'Div' && after.input[1] === sqrt.output[0] && !index.constant(after.input[0] ?? '')) {
    normalized = after.output[0];
  } else {
    const mul = onlyConsumer(index, after.output[0], ['Mul']);
    if (mul && other(mul, after.output[0]) === y) normalized = mul.output[0];
  }
  // γ: Mul with a 1-D constant; β: an Add with one after it (LayerNorm).
  const gammaMul = onlyConsumer(index, normalized, ['Mul']);
  const gammaName = gammaMul && other(gammaMul, normalized!);
  if (!gammaMul || !gammaName || !vector(index, gammaName)) return undefined;
  const betaAdd = kind === 'LayerNorm' ? onlyConsumer(index, gammaMul.output[0], ['Add']) : undefined;
  const betaName = betaAdd && other(betaAdd, gammaMul.output[0]);
  return describe(model, index, gammaMul, kind, true, gammaName, betaName && vector(index, betaName) ? betaName : undefined);
}

/** A 1-D constant (or one broadcast as [1, …, C]). */
function vector(index: GraphIndex, value: string): boolean {
  const c = index.constant(value);
  if (!c) return false;
  const dims = tensorDims(c.tensor);
  return dims.length >= 1 && dims.slice(0, -1).every((d) => d === 1) && dims[dims.length - 1] > 1;
}

function describe(model: OnnxModel, index: GraphIndex, node: NodeProto, kind: NormKind, isDecomposed: boolean, scale?: string, bias?: string): NormInfo | undefined {
  const s = scale ? index.constant(scale) : undefined;
  if (!s) return undefined;
  const b = bias ? index.constant(bias) : undefined;
  const gamma = Array.from(tensorFloats(s.tensor, model.external));
  const beta = b ? Array.from(tensorFloats(b.tensor, model.external)) : undefined;
  const name = index.nameOf(node);
  return {
    name,
    position: index.nodes.indexOf(node),
    displayName: moduleOfParameter(s.holder) ?? scopePath(node.name ?? '') ?? name,
    kind,
    decomposed: isDecomposed,
    scaleName: s.holder,
    gamma,
    biasName: b?.holder,
    beta,
    params: gamma.length + (beta?.length ?? 0),
  };
}
