// Finding the prunable layers of a graph: Conv, ConvTranspose, Gemm, and
// MatMul with a constant weight, each with the layout of its weight and the
// BatchNormalization that follows it (possibly through Identity).

import { attrInt } from '../onnx/attributes';
import type { ConstantRef, GraphIndex } from '../onnx/graph';
import type { NodeProto } from '../onnx/schema';
import { tensorDims } from '../onnx/tensor';
import type { LayerKind } from './types';

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
}

const KINDS = new Set<string>(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

export function findPrunableLayers(index: GraphIndex): PrunableLayer[] {
  const out: PrunableLayer[] = [];
  for (const node of index.nodes) {
    const op = node.op_type ?? '';
    if (!KINDS.has(op) || (node.domain && node.domain !== 'ai.onnx')) continue;
    const wName = node.input[1];
    const weight = wName ? index.constant(wName) : undefined;
    if (!weight) continue;
    let dims: number[];
    try {
      dims = tensorDims(weight.tensor);
    } catch {
      continue;
    }
    if (dims.length < 2) continue;
    if (op === 'Gemm' && attrInt(node, 'transA', 0) === 1) continue;
    if (op === 'MatMul' && dims.length !== 2) continue;
    const axes = weightAxes(node, op as LayerKind);
    const biasName = op === 'MatMul' ? undefined : node.input[2] || undefined;
    const name = index.nameOf(node);
    out.push({
      node, name, displayName: displayName(node, weight.holder, name), op: op as LayerKind,
      weight, weightName: weight.holder,
      bias: biasName ? index.constant(biasName) : undefined, biasName,
      dims, groups: op === 'Conv' || op === 'ConvTranspose' ? Math.max(1, attrInt(node, 'group', 1)) : 1,
      ...axes,
      batchNorm: findBatchNorm(index, node),
    });
  }
  return out;
}

function weightAxes(node: NodeProto, op: LayerKind): { outAxis: 0 | 1; inAxis: 0 | 1 } {
  if (op === 'Conv') return { outAxis: 0, inAxis: 1 };
  if (op === 'ConvTranspose') return { outAxis: 1, inAxis: 0 };
  if (op === 'Gemm' && attrInt(node, 'transB', 0) === 1) return { outAxis: 0, inAxis: 1 };
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

/**
 * The module path a PyTorch user knows: from the weight name (`layer1.0.conv1.weight`)
 * when the export kept it, else from the node's scope (`/layer1/layer1.0/conv1/Conv`).
 */
export function displayName(node: NodeProto, weightName: string, fallback: string): string {
  if (weightName.endsWith('.weight') && !weightName.startsWith('onnx::')) return weightName.slice(0, -'.weight'.length);
  const name = node.name ?? '';
  if (name.startsWith('/')) {
    const segs = name.split('/').filter(Boolean).slice(0, -1);
    let path = '';
    for (const s of segs) path = path && !s.startsWith(path + '.') ? `${path}.${s}` : s;
    if (path) return path;
  }
  return fallback;
}
