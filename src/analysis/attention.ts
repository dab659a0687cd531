// Attention blocks, read from the graph rather than from names. Each Softmax
// over the scores of a MatMul of two computed tensors (Q·Kᵀ) is a block; the
// MatMul after it (A·V) and the projections are found by walking the data
// path through the ops that only reshape, transpose, rotate (RoPE), expand
// (GQA) or add a bias. Heads and head dim come from the Reshape right after
// each projection (`view(B, T, heads, head_dim)`), whose target the exporter
// builds from `Shape → Gather` (batch, sequence) and constants (heads, dim).
//
// The symbolic shapes of src/onnx/shapes.ts give the Reshape's output dims
// when they fold; otherwise the target's trailing constants are read here.

import type { GraphIndex } from '../onnx/graph';
import type { OnnxModel } from '../onnx/model';
import type { NodeProto } from '../onnx/schema';
import type { ShapeInfo } from '../onnx/shapes';
import { tensorInts } from '../onnx/tensor';
import type { PrunableLayer } from './layers';
import { scopePath } from './names';
import type { AttentionInfo } from './types';

/** Ops on the way from a projection to Q·Kᵀ or A·V, and which of their inputs carry the data. */
const DATA_INPUTS: Record<string, 'first' | 'all'> = {
  Transpose: 'first', Reshape: 'first', Squeeze: 'first', Unsqueeze: 'first', Split: 'first', Slice: 'first',
  Gather: 'first', Expand: 'first', Neg: 'first', Identity: 'first', Cast: 'first',
  Mul: 'all', Add: 'all', Sub: 'all', Div: 'all', Concat: 'all',
};
/** Between Q·Kᵀ and Softmax: scale, mask, and casts. */
const SCORE_OPS = new Set(['Mul', 'Div', 'Add', 'Sub', 'Where', 'Cast', 'Identity']);
/** Between Softmax and A·V. */
const PROBS_OPS = new Set(['Cast', 'Dropout', 'Identity']);
/** Between A·V and the output projection: merging heads back. */
const MERGE_OPS = new Set(['Transpose', 'Reshape', 'Identity', 'Flatten']);

export function findAttention(model: OnnxModel, index: GraphIndex, layers: PrunableLayer[], shapes: ShapeInfo): AttentionInfo[] {
  const byNode = new Map(layers.map((l) => [l.node, l]));
  const out: AttentionInfo[] = [];
  for (const softmax of index.nodes) {
    if (softmax.op_type !== 'Softmax') continue;
    const scope = scopePath(softmax.name ?? '');
    const scores = scoreMatMul(index, softmax);
    const av = avMatMul(index, softmax);
    if (!scores || !av) continue;
    const q = projections(index, byNode, scores.input[0], scope);
    const k = projections(index, byNode, scores.input[1], scope);
    const v = projections(index, byNode, av.input[1], scope);
    if (q.layers.length !== 1 || k.layers.length !== 1 || v.layers.length !== 1) continue;
    const [ql, kl, vl] = [q.layers[0], k.layers[0], v.layers[0]];
    const o = outputProjection(index, byNode, av.output[0]);
    const fused = ql === kl && kl === vl;
    const width = (l: PrunableLayer) => l.dims[l.outAxis];
    const qDim = headDim(model, index, shapes, ql);
    const kDim = fused ? qDim : headDim(model, index, shapes, kl);
    if (!qDim || !kDim || qDim !== kDim) continue;
    const heads = width(ql) / (fused ? 3 * qDim : qDim);
    const kvHeads = fused ? heads : width(kl) / kDim;
    if (!Number.isInteger(heads) || !Number.isInteger(kvHeads) || heads % kvHeads !== 0) continue;
    const members = fused ? [ql, o] : [ql, kl, vl, o];
    out.push({
      name: blockName(members.filter((l): l is PrunableLayer => !!l).map((l) => l.displayName)) ?? scope ?? index.nameOf(softmax),
      heads, kvHeads, headDim: qDim,
      ...(fused ? { qkv: ql.name } : { q: ql.name, k: kl.name, v: vl.name }),
      o: o?.name,
      rotary: q.rotary && k.rotary,
    });
  }
  return out;
}

function inScope(node: NodeProto, scope: string | undefined): boolean {
  if (!scope) return true;
  const s = scopePath(node.name ?? '');
  return s === undefined || s === scope || s.startsWith(scope + '.');
}

/** The MatMul of two computed tensors whose result reaches the Softmax through scale and mask ops. */
function scoreMatMul(index: GraphIndex, softmax: NodeProto): NodeProto | undefined {
  let frontier = [softmax.input[0]];
  for (let depth = 0; depth < 6 && frontier.length; depth++) {
    const next: string[] = [];
    for (const v of frontier) {
      const p = v ? index.producer(v) : undefined;
      if (!p) continue;
      if (p.op_type === 'MatMul' && !index.constant(p.input[0]) && !index.constant(p.input[1])) return p;
      if (SCORE_OPS.has(p.op_type ?? '')) next.push(...p.input.filter((i) => i && !index.constant(i)));
    }
    frontier = next;
  }
  return undefined;
}

function avMatMul(index: GraphIndex, softmax: NodeProto): NodeProto | undefined {
  let value = softmax.output[0];
  for (let depth = 0; depth < 4 && value; depth++) {
    const users = index.consumers(value);
    const mm = users.find((u) => u.op_type === 'MatMul' && u.input[0] === value && !index.constant(u.input[1]));
    if (mm) return mm;
    const pass = users.find((u) => PROBS_OPS.has(u.op_type ?? ''));
    value = pass?.output[0] ?? '';
  }
  return undefined;
}

/** The layers a value of the block is computed from, and whether RoPE (a Neg of a half) is on the way. */
function projections(index: GraphIndex, byNode: Map<NodeProto, PrunableLayer>, value: string, scope: string | undefined) {
  const found = new Set<PrunableLayer>();
  let rotary = false;
  const seen = new Set<string>();
  const stack = [value];
  while (stack.length && seen.size < 256) {
    const v = stack.pop()!;
    if (!v || seen.has(v) || index.constant(v)) continue;
    seen.add(v);
    const p = index.producer(v);
    if (!p) continue;
    const layer = byNode.get(p);
    if (layer) {
      found.add(layer);
      continue;
    }
    const how = DATA_INPUTS[p.op_type ?? ''];
    if (!how || !inScope(p, scope)) continue;
    if (p.op_type === 'Neg') rotary = true;
    stack.push(...(how === 'first' ? [p.input[0]] : p.input));
  }
  return { layers: [...found], rotary };
}

function outputProjection(index: GraphIndex, byNode: Map<NodeProto, PrunableLayer>, value: string): PrunableLayer | undefined {
  for (let depth = 0; depth < 6 && value; depth++) {
    const users = index.consumers(value);
    const layer = users.map((u) => byNode.get(u)).find((l) => l && l.node.input[0] === value);
    if (layer) return layer;
    if (users.length !== 1 || !MERGE_OPS.has(users[0].op_type ?? '')) return undefined;
    value = users[0].output[0];
  }
  return undefined;
}

/** The head dim of a projection: the last dim of the Reshape that splits its output into heads. */
function headDim(model: OnnxModel, index: GraphIndex, shapes: ShapeInfo, layer: PrunableLayer): number | undefined {
  let value = layer.node.output[0];
  for (let depth = 0; depth < 3 && value; depth++) {
    const users = index.consumers(value);
    const reshape = users.find((u) => u.op_type === 'Reshape' && u.input[0] === value);
    if (reshape) {
      const width = layer.dims[layer.outAxis];
      const tail = reshapeTail(model, index, shapes, reshape);
      if (!tail) return undefined;
      const [heads, dim] = tail;
      if (dim !== undefined && dim > 0) return dim;
      if (heads !== undefined && heads > 0 && width % heads === 0) return width / heads;
      return undefined;
    }
    // A bias Add (Linear with bias) sits between the MatMul and the Reshape.
    const add = users.length === 1 && users[0].op_type === 'Add' ? users[0] : undefined;
    value = add?.output[0] ?? '';
  }
  return undefined;
}

/** The last two entries of a Reshape's target shape (heads, head_dim), as far as they are constants. */
function reshapeTail(model: OnnxModel, index: GraphIndex, shapes: ShapeInfo, reshape: NodeProto): [number | undefined, number | undefined] | undefined {
  const known = (d: unknown) => (typeof d === 'number' ? d : undefined);
  const outDims = shapes.shapes.get(reshape.output[0])?.dims;
  if (outDims && outDims.length >= 2 && typeof outDims[outDims.length - 1] === 'number') {
    return [known(outDims[outDims.length - 2]), known(outDims[outDims.length - 1])];
  }
  const target = reshape.input[1];
  const ints = shapes.values.get(target) ?? constantInts(model, index, target);
  if (ints && ints.length >= 2) return [ints[ints.length - 2], ints[ints.length - 1]];
  // Concat(axis 0) of pieces: the trailing pieces are the exporter's constants.
  const concat = index.producer(target);
  if (concat?.op_type !== 'Concat') return undefined;
  const pieces = concat.input.map((v) => shapes.values.get(v) ?? constantInts(model, index, v));
  const tail: (number | undefined)[] = [];
  for (let i = pieces.length - 1; i >= 0 && tail.length < 2; i--) {
    const p = pieces[i];
    if (!p) {
      tail.unshift(undefined);
      continue;
    }
    for (let j = p.length - 1; j >= 0 && tail.length < 2; j--) tail.unshift(p[j]);
  }
  return tail.length === 2 ? [tail[0], tail[1]] : undefined;
}

function constantInts(model: OnnxModel, index: GraphIndex, value: string): number[] | undefined {
  const c = value ? index.constant(value) : undefined;
  try {
    return c ? tensorInts(c.tensor, model.external) : undefined;
  } catch {
    return undefined;
  }
}

/** The module path shared by a block's projections (`layers.0.self_attn`). */
function blockName(names: string[]): string | undefined {
  if (!names.length) return undefined;
  const split = names.map((n) => n.split('.'));
  const common: string[] = [];
  for (let i = 0; i < split[0].length - 1; i++) {
    if (split.every((s) => s.length > i + 1 && s[i] === split[0][i])) common.push(split[0][i]);
    else break;
  }
  return common.length ? common.join('.') : undefined;
}
