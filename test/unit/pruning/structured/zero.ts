// Makes selected channels contribute nothing, so removing them must leave the
// outputs unchanged: zero what produces each channel (filters and biases,
// BN gamma and beta, norm scale and shift, per-channel Add/Mul operands).
// Consumers' input slices are left as they are; a zero channel times anything
// is zero. The models under test use activations with f(0) = 0.

import type { OnnxModel } from '../../../../src/onnx/model';
import { setTensorFloats, tensorDims, tensorFloats } from '../../../../src/onnx/tensor';
import type { DepGraph, MemberRole, SliceMember } from '../../../../src/pruning/depgraph';

const PRODUCING: MemberRole[] = ['out', 'bias', 'depthwise', 'bn-scale', 'bn-bias', 'norm-scale', 'norm-bias'];
const ZEROABLE_OPERANDS = new Set(['Add', 'Sub', 'Mul', 'PRelu']);

export function zeroChannels(model: OnnxModel, graph: DepGraph, remove: Map<number, number[]>): void {
  zeroMembers(model, graph, remove, (m) => PRODUCING.includes(m.role) || (m.role === 'operand' && ZEROABLE_OPERANDS.has(m.node.op_type ?? '')));
}

/** Zeroes the consumers' input slices of the removed channels too (for ops where f(0) is not 0). */
export function zeroConsumers(model: OnnxModel, graph: DepGraph, remove: Map<number, number[]>): void {
  zeroMembers(model, graph, remove, (m) => m.role === 'in');
}

function zeroMembers(model: OnnxModel, graph: DepGraph, remove: Map<number, number[]>, which: (m: SliceMember) => boolean): void {
  const removed = new Set<number>();
  for (const [gid, list] of remove) for (const i of list) removed.add(graph.groups[gid].units[i]);
  for (const m of graph.members) {
    if (!which(m)) continue;
    const positions = [...m.labels.keys()].filter((p) => removed.has(graph.units.find(m.labels[p])));
    if (!positions.length) continue;
    const t = graph.index.constant(m.node.input[m.input])!.tensor;
    const dims = tensorDims(t);
    const values = Float32Array.from(tensorFloats(t, model.external));
    let inner = 1;
    for (let a = m.axis + 1; a < dims.length; a++) inner *= dims[a];
    const outer = values.length / (dims[m.axis] * inner);
    for (let o = 0; o < outer; o++) {
      for (const p of positions) values.fill(0, (o * dims[m.axis] + p) * inner, (o * dims[m.axis] + p + 1) * inner);
    }
    setTensorFloats(t, dims, values);
  }
}

/** A deterministic choice of about `fraction` of each unfrozen group's channels (at least one stays). */
export function pickChannels(graph: DepGraph, fraction: number, seed = 3, only?: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const g of graph.groups) {
    if (g.frozen || (only !== undefined && g.id !== only)) continue;
    const n = Math.min(g.size - 1, Math.max(1, Math.floor(g.size * fraction)));
    const order = Array.from({ length: g.size }, (_, i) => i).sort(() => next() - 0.5);
    out.set(g.id, order.slice(0, n).sort((a, b) => a - b));
  }
  return out;
}

