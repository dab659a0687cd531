// Finding the prunable layers of a graph: Conv, ConvTranspose, Gemm, and
// MatMul with a constant weight, each with the layout of its weight and the
// BatchNormalization that follows it (possibly through Identity). On request,
// also the Linear that an unfolded transformer export writes as
// `Transpose(W) → MatMul`.

import { attrInt, attrInts } from '../onnx/attributes';
import { PruneLensError } from '../onnx/errors';
import { checkChannels } from './limits';
import type { ConstantRef, GraphIndex } from '../onnx/graph';
import type { NodeProto } from '../onnx/schema';
import { tensorDims } from '../onnx/tensor';
import { displayName } from './names';
import type { LayerKind } from './types';

export { displayName } from './names';

export interface PrunableLayer {
  node: NodeProto;
  name: string;
  displayName: string;
  op: LayerKind;
  weight: ConstantRef;
  weightName: string;
  bias?: ConstantRef;
  biasName?: string;
  dims: number[];
  groups: number;
  /** Which weight axis indexes output channels, and which input channels. */
  outAxis: 0 | 1;
  inAxis: 0 | 1;
  batchNorm?: { node: NodeProto; name: string; scale?: ConstantRef; scaleName: string };
  /** The Transpose node between the stored weight and the MatMul (`Transpose(W) → MatMul`). */
  transposedBy?: NodeProto;
}

export interface FindOptions {
  /**
   * Include MatMul layers whose weight comes through a Transpose. The structured
   * engine does not rewrite that form yet, so only the analysis asks for it.
   */
  transposedWeights?: boolean;
}

const KINDS = new Set<string>(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

export function findPrunableLayers(index: GraphIndex, opts: FindOptions = {}): PrunableLayer[] {
  const out: PrunableLayer[] = [];
  for (const node of index.nodes) {
    const op = node.op_type ?? '';
    if (!KINDS.has(op) || (node.domain && node.domain !== 'ai.onnx')) continue;
    const wName = node.input[1];
    let weight = wName ? index.constant(wName) : undefined;
    const transposedBy = !weight && op === 'MatMul' && opts.transposedWeights ? weightTranspose(index, wName) : undefined;
    if (transposedBy) weight = index.constant(transposedBy.input[0]);
    if (!weight) continue;
    let dims: number[];
    try {
      dims = tensorDims(weight.tensor);
    } catch {
      continue;
    }
    if (dims.length < 2) continue;
    // transA/transB are 0 or 1; onnxruntime's kernel reads any nonzero as true but its shape inference
    // truncates to 32 bits, so another value has no one meaning.
    if (op === 'Gemm') {
      for (const t of ['transA', 'transB']) {
        const v = attrInt(node, t, 0);
        if (v !== 0 && v !== 1) throw new PruneLensError('shape', `Gemm ${index.nameOf(node)} has ${t} = ${v}; it must be 0 or 1`, { node: index.nameOf(node) });
      }
    }
    if (op === 'Gemm' && attrInt(node, 'transA', 0) !== 0) continue;
    if (op === 'MatMul' && dims.length !== 2) continue;
    // Transpose(W[out, in]) → MatMul reads W like Gemm with transB.
    const axes = transposedBy ? { outAxis: 0 as const, inAxis: 1 as const } : weightAxes(node, op as LayerKind);
    checkChannels(dims[axes.outAxis], weight.holder, axes.outAxis, index.nameOf(node));
    checkChannels(dims[axes.inAxis], weight.holder, axes.inAxis, index.nameOf(node));
    const groups = op === 'Conv' || op === 'ConvTranspose' ? Math.max(1, attrInt(node, 'group', 1)) : 1;
    // Conv splits its filters (dim 0) into `group` groups, ConvTranspose its input channels (also dim 0):
    // a remainder means no channel layout fits, and every per-group count derived from it is fractional.
    if (dims[0] % groups !== 0) {
      throw new PruneLensError('shape', `${op} ${index.nameOf(node)} has group ${groups}, which does not divide dim 0 (${dims[0]}) of its weight ${weight.holder}`,
        { node: index.nameOf(node), tensor: weight.holder });
    }
    const biasName = op === 'MatMul' ? undefined : node.input[2] || undefined;
    const name = index.nameOf(node);
    out.push({
      node, name, displayName: displayName(node, weight.holder, name, biasName ?? addedBias(index, node)), op: op as LayerKind,
      weight, weightName: weight.holder,
      bias: biasName ? index.constant(biasName) : undefined, biasName,
      dims, groups,
      ...axes,
      batchNorm: findBatchNorm(index, node),
      transposedBy,
    });
  }
  return out;
}

function weightAxes(node: NodeProto, op: LayerKind): { outAxis: 0 | 1; inAxis: 0 | 1 } {
  if (op === 'Conv') return { outAxis: 0, inAxis: 1 };
  if (op === 'ConvTranspose') return { outAxis: 1, inAxis: 0 };
  if (op === 'Gemm' && attrInt(node, 'transB', 0) !== 0) return { outAxis: 0, inAxis: 1 };
  return { outAxis: 1, inAxis: 0 };
}

/** The BatchNormalization reading this layer's output, directly or through Identity. */
function findBatchNorm(index: GraphIndex, node: NodeProto): PrunableLayer['batchNorm'] {
  let value = node.output[0];
  for (let hops = 0; hops < 8 && value; hops++) {
    const users = index.consumers(value);
    if (users.length !== 1) return undefined;
    const u = users[0];
    if (u.op_type === 'Identity') {
      value = u.output[0];
      continue;
    }
    if (u.op_type !== 'BatchNormalization' || u.input[0] !== value) return undefined;
    const scaleName = u.input[1];
    return { node: u, name: index.nameOf(u), scale: scaleName ? index.constant(scaleName) : undefined, scaleName };
  }
  return undefined;
}

/** The 2-D Transpose of a constant that feeds a MatMul as its weight. */
function weightTranspose(index: GraphIndex, value: string | undefined): NodeProto | undefined {
  const t = value ? index.producer(value) : undefined;
  if (t?.op_type !== 'Transpose' || !t.input[0]) return undefined;
  const perm = attrInts(t, 'perm');
  if (perm && perm.join() !== '1,0') return undefined;
  return index.constant(t.input[0]) ? t : undefined;
}

/** The bias of a Linear exported as MatMul → Add(bias): only to name the layer (`blocks.0.attn.qkv.bias`). */
function addedBias(index: GraphIndex, node: NodeProto): string | undefined {
  const users = node.output[0] ? index.consumers(node.output[0]) : [];
  if (users.length !== 1 || users[0].op_type !== 'Add') return undefined;
  const other = users[0].input.find((v) => v !== node.output[0]);
  return other && index.constant(other) ? index.constant(other)!.holder : undefined;
}
