// An index over one GraphProto: who produces and who consumes each value,
// which values are constants (initializers or Constant nodes, also when seen
// through Identity), and a topological order. Built once, read by analysis,
// shape inference and the pruning engine.

import { attr, attrFloat, attrInt } from './attributes';
import { floatTensor, int64Tensor } from './build';
import { PruneLensError } from './errors';
import type { GraphProto, NodeProto, TensorProto } from './schema';
import { toNumber } from './tensor';

export interface ConstantRef {
  tensor: TensorProto;
  /** Where the tensor lives: an initializer, or a Constant node's `value`. */
  kind: 'initializer' | 'constant-node';
  /** Initializer name, or the Constant node's output name. */
  holder: string;
  /** Identity nodes between the holder and the value asked for. */
  via: NodeProto[];
}

export class GraphIndex {
  readonly nodes: NodeProto[];
  private readonly producers = new Map<string, NodeProto>();
  private readonly consumerMap = new Map<string, NodeProto[]>();
  private readonly initializers = new Map<string, TensorProto>();
  private readonly constantNodes = new Map<string, TensorProto>();
  private readonly names = new Map<NodeProto, string>();
  readonly graphInputs: Set<string>;
  readonly graphOutputs: Set<string>;

  constructor(readonly graph: GraphProto) {
    this.nodes = graph.node;
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
    this.graphInputs = new Set(graph.input.map((v) => v.name ?? '').filter((n) => n && !this.initializers.has(n)));
    this.graphOutputs = new Set(graph.output.map((v) => v.name ?? ''));
    const used = new Set<string>();
    this.nodes.forEach((n, i) => {
      let name = n.name || `${n.op_type ?? 'node'}_${i}`;
      // Names are not required to be unique; the index makes them so for reporting.
      if (used.has(name)) name = `${name}#${i}`;
      used.add(name);
      this.names.set(n, name);
      for (const o of n.output) {
        if (!o) continue;
        // Single assignment: with two producers, which one a reader sees (and a pruned copy keeps) would be a guess.
        const other = this.producers.get(o);
        if (other) throw new PruneLensError('graph', `${o} is the output of two nodes, ${this.names.get(other)} and ${name}; a value has one producer in an ONNX graph`, { tensor: o });
        this.producers.set(o, n);
      }
      for (const input of n.input) {
        if (!input) continue;
        let list = this.consumerMap.get(input);
        if (!list) this.consumerMap.set(input, (list = []));
        list.push(n);
      }
      if (n.op_type === 'Constant' && n.output[0]) {
        const t = constantValue(n);
        if (t) this.constantNodes.set(n.output[0], t);
      }
    });
  }

  nameOf(node: NodeProto): string {
    return this.names.get(node) ?? node.name ?? node.op_type ?? 'node';
  }

  producer(value: string): NodeProto | undefined {
    return this.producers.get(value);
  }

  consumers(value: string): NodeProto[] {
    return this.consumerMap.get(value) ?? [];
  }

  initializer(name: string): TensorProto | undefined {
    return this.initializers.get(name);
  }

  /** The constant behind a value: an initializer or Constant node, possibly through Identity. */
  constant(value: string): ConstantRef | undefined {
    const via: NodeProto[] = [];
    let name = value;
    for (let hops = 0; hops < 64; hops++) {
      const init = this.initializers.get(name);
      // An initializer that is also a graph input can be overridden at run time (IR < 4 lists
      // every initializer as an input, though, so only count it when the input is not listed).
      if (init) return { tensor: init, kind: 'initializer', holder: name, via };
      const c = this.constantNodes.get(name);
      if (c) return { tensor: c, kind: 'constant-node', holder: name, via };
      const p = this.producers.get(name);
      if (!p || p.op_type !== 'Identity' || !p.input[0]) return undefined;
      via.push(p);
      name = p.input[0];
    }
    return undefined;
  }

  isConstant(value: string): boolean {
    return this.constant(value) !== undefined;
  }

  /** Nodes in an order where every producer comes before its consumers. Throws on cycles. */
  topoOrder(): NodeProto[] {
    if (this.fileOrderIsTopological()) return this.nodes.slice();
    // Kahn's algorithm over distinct produced inputs; a node left over sits on a cycle.
    const indeg = new Map<NodeProto, number>();
    for (const n of this.nodes) indeg.set(n, new Set(n.input.filter((i) => i && this.producers.has(i))).size);
    const ready = this.nodes.filter((n) => indeg.get(n) === 0).reverse();
    const order: NodeProto[] = [];
    while (ready.length) {
      const n = ready.pop()!;
      order.push(n);
      for (const o of n.output) {
        if (!o) continue;
        for (const c of new Set(this.consumers(o))) {
          const left = indeg.get(c)! - 1;
          indeg.set(c, left);
          if (left === 0) ready.push(c);
        }
      }
    }
    if (order.length !== this.nodes.length) {
      const stuck = this.nodes.find((n) => (indeg.get(n) ?? 0) > 0)!;
      throw new PruneLensError('graph', `the graph has a cycle through node ${this.nameOf(stuck)}`, { node: this.nameOf(stuck) });
    }
    return order;
  }

  private fileOrderIsTopological(): boolean {
    const seen = new Set<string>();
    for (const n of this.nodes) {
      for (const i of n.input) if (i && this.producers.has(i) && !seen.has(i)) return false;
      for (const o of n.output) if (o) seen.add(o);
    }
    return true;
  }
}

/** The value of a Constant node as a tensor (value, value_float(s), value_int(s)). */
export function constantValue(n: NodeProto): TensorProto | undefined {
  const name = n.output[0];
  const v = attr(n, 'value');
  if (v?.t) return v.t;
  if (attr(n, 'value_float')) return floatTensor(name, [], [attrFloat(n, 'value_float', 0)]);
  const vfs = attr(n, 'value_floats');
  if (vfs) return floatTensor(name, [vfs.floats.length], vfs.floats);
  if (attr(n, 'value_int')) return int64Tensor(name, [], [attrInt(n, 'value_int', 0)]);
  const vis = attr(n, 'value_ints');
  if (vis) return int64Tensor(name, [vis.ints.length], vis.ints.map(toNumber));
  return undefined;
}
