// Builds the dependency graph: walks the nodes in topological order, lets the
// op rules propagate channel units from producers to consumers, then cuts the
// units into groups (connected sets of layers whose channels are tied) and
// records why a group must stay whole. Linear in nodes plus channels.

import { displayName, findPrunableLayers, type PrunableLayer } from '../../analysis/layers';
import { PruneLensError, withFile } from '../../onnx/errors';
import { type ConstantRef, GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import { assumeInputShape, inferShapes, type Dim, type ShapeInfo } from '../../onnx/shapes';
import type { GraphProto, NodeProto } from '../../onnx/schema';
import { DataType, tensorDims, tensorInts } from '../../onnx/tensor';
import { resolveLayers } from '../match';
import type { RuleContext } from './context';
import { ruleFor, type RuleTable } from './rules';
import type {
  ChannelGroup, DepGraph, GqaMode, Fixup, LayerChannels, MemberRole, SliceMember, Source, ValueChannels,
} from './types';
import { checkChannels, MAX_UNITS } from './limits';
import { UnitTable } from './units';

export interface BuildOptions {
  /** Layers whose out-channels are never cut (node name, module path, weight name, or glob). */
  ignore?: string[];
  /**
   * Channel rules for ops the op table does not know, or to override it,
   * keyed by `domain:OpType` (`com.microsoft:FusedConv`) or a default-domain op type.
   */
  rules?: RuleTable;
  /** The input size MACs are counted at when the model has named dims (shapes by input name, or one shape). */
  inputShape?: { shapes: Record<string, number[]> | number[]; source: string };
  /**
   * GQA: 'even' (default) keeps the kv heads and removes the same number of
   * query heads from every group; 'groups' removes kv heads with their query heads.
   */
  gqa?: GqaMode;
}

export function buildDependencyGraph(model: OnnxModel, opts: BuildOptions = {}): DepGraph {
  try {
    return new Builder(model, opts).build();
  } catch (e) {
    throw model.file ? withFile(e, model.file) : e;
  }
}

/** Ops whose output dims are the entries of a shape vector input: that input. */
const SHAPE_TARGETS: Record<string, number> = { Reshape: 1, Expand: 1, Tile: 1, ConstantOfShape: 0 };

/**
 * Two initializers of one name: ONNX forbids it, onnxruntime warns and uses
 * the last. A cut would reshape only one of them, and the pruned file would
 * no longer load, so the model is refused before anything is cut.
 */
function refuseDuplicateInitializers(graph: GraphProto): void {
  const seen = new Set<string>();
  for (const t of graph.initializer) {
    if (!t.name) continue;
    if (seen.has(t.name)) {
      const n = graph.initializer.filter((u) => u.name === t.name).length;
      throw new PruneLensError('graph', `initializer ${t.name} is defined ${n} times; names must be unique in an ONNX graph, so remove the copies before pruning`, { tensor: t.name });
    }
    seen.add(t.name);
  }
}

/**
 * Without an opset for the default domain, which version of Split, Slice or
 * Squeeze applies (sizes as input or attribute) is a guess; onnxruntime takes
 * its latest, and a fixup written for another version would not load.
 */
function refuseMissingOpset(model: OnnxModel): void {
  if (model.opset() > 0) return;
  const node = model.graph.node.find((n) => !n.domain || n.domain === 'ai.onnx');
  if (!node) return;
  const imports = model.proto.opset_import.map((o) => `${o.domain || "''"} ${o.version}`).join(', ') || 'none';
  throw new PruneLensError('unsupported', `the model imports no opset for the default ONNX domain (opset_import: ${imports}), ` +
    `so which version of ${node.op_type} applies is unknown; re-export it with an opset`, { node: node.name || node.op_type });
}

class Builder {
  private readonly index: GraphIndex;
  private readonly shapes: ShapeInfo;
  private readonly units = new UnitTable();
  private readonly sources: Source[] = [];
  private readonly values = new Map<string, ValueChannels>();
  private readonly members: SliceMember[] = [];
  private readonly fixups: Fixup[] = [];
  private readonly evenBlocks: DepGraph['evenBlocks'] = [];
  private readonly tags: { labels: Int32Array; kind: 'attention' | 'hidden' }[] = [];
  private readonly layerChannels: LayerChannels[] = [];
  private readonly constants = new Map<string, ConstantRef | undefined>();
  private readonly layerOf = new Map<NodeProto, PrunableLayer>();
  private readonly ignored = new Set<PrunableLayer>();
  private readonly rules: RuleTable;
  private readonly gqa: GqaMode;

  constructor(private readonly model: OnnxModel, opts: BuildOptions) {
    refuseDuplicateInitializers(model.graph);
    refuseMissingOpset(model);
    this.index = new GraphIndex(model.graph);
    this.rules = opts.rules ?? {};
    this.gqa = opts.gqa ?? 'even';
    this.shapes = inferShapes(model, this.index);
    if (opts.inputShape) assumeInputShape(model, this.shapes, opts.inputShape.shapes, opts.inputShape.source);
    const layers = findPrunableLayers(this.index);
    for (const l of layers) this.layerOf.set(l.node, l);
    for (const p of opts.ignore ?? []) for (const l of resolveLayers(p, layers, 'layer', true)) this.ignored.add(l);
  }

  build(): DepGraph {
    this.trackGraphInputs();
    const opset = this.model.opset();
    for (const node of this.index.topoOrder()) {
      try {
        ruleFor(node, this.rules)(this.context(node, opset));
      } catch (e) {
        // Rules raise shape and limit errors from helpers that do not know the node.
        throw e instanceof PruneLensError && !e.location.node ? new PruneLensError(e.code, e.detail, { ...e.location, node: this.index.nameOf(node) }, e.file) : e;
      }
      this.freezeSubgraphCaptures(node);
    }
    this.freezeCopiedCounts();
    for (const out of this.index.graphOutputs) {
      const ch = this.values.get(out);
      if (ch) this.freezeLabels(ch.labels, `it reaches the graph output ${out}, whose shape must not change`);
    }
    const { groups, unitGroup } = this.groups();
    return {
      groups, unitGroup, values: this.values, members: this.members, fixups: this.fixups,
      layers: this.layerChannels, sources: this.sources, units: this.units, index: this.index,
      constants: this.constants, shapes: this.shapes, evenBlocks: this.evenBlocks,
    };
  }

  /**
   * A shape vector entry that copies a channel count (a Gather of the Shape
   * at the channel axis) into a dim that is not the output's channel axis (a
   * batch read from the hidden size) would change with the cut: those
   * channels stay. The channel entries themselves are the rules' business.
   */
  private freezeCopiedCounts(): void {
    for (const node of this.index.nodes) {
      const input = node.domain ? undefined : SHAPE_TARGETS[node.op_type ?? ''];
      const origins = input === undefined ? undefined : this.shapes.origins.get(node.input[input]);
      const rank = this.shapes.shapes.get(node.output[0])?.dims?.length;
      if (!origins || rank === undefined) continue;
      const out = this.values.get(node.output[0]);
      const from = out ? out.axis : -1;
      const to = out ? out.axis + (out.split?.sizes.length ?? 1) : -1;
      const shift = rank - origins.length;
      origins.forEach((o, j) => {
        const ch = o && (j + shift < from || j + shift >= to) ? this.values.get(o.value) : undefined;
        if (ch && ch.axis === o!.axis) {
          this.freezeLabels(ch.labels, `${this.index.nameOf(node)} copies the channel count of ${o!.value} into dim ${j + shift} of its output`);
        }
      });
    }
  }

  /** Graph inputs carry channels too; they can never be cut. */
  private trackGraphInputs(): void {
    for (const name of this.index.graphInputs) {
      const dims = this.shapes.shapes.get(name)?.dims;
      if (!dims || dims.length < 2 || typeof dims[1] !== 'number') continue;
      checkChannels(dims[1], name, 1);
      const labels = this.allocate(dims[1], undefined, name);
      this.freezeLabels(labels, `it reads the graph input ${name}`);
      this.values.set(name, { axis: 1, labels });
    }
  }

  private allocate(n: number, layer: PrunableLayer | undefined, name: string): Int32Array {
    if (layer) checkChannels(n, layer.weightName, layer.outAxis, layer.name);
    if (this.units.size + n > MAX_UNITS) throw new PruneLensError('limit', `the model has more than ${MAX_UNITS} channels in all (at ${name})`, { tensor: name });
    const first = this.units.allocate(n);
    this.sources.push({ firstUnit: first, size: n, layer, name });
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = first + i;
    if (layer && this.ignored.has(layer)) this.freezeLabels(labels, `layer ${layer.displayName} is ignored`);
    return labels;
  }

  private freezeLabels(labels: Int32Array, reason: string): void {
    for (const u of labels) this.units.freeze(u, reason);
  }

  private constant(value: string | undefined): ConstantRef | undefined {
    if (!value) return undefined;
    if (!this.constants.has(value)) this.constants.set(value, this.index.constant(value));
    return this.constants.get(value);
  }

  private context(node: NodeProto, opset: number): RuleContext {
    const name = this.index.nameOf(node);
    const layer = this.layerOf.get(node);
    const self = this;
    return {
      node, name, index: this.index, opset, gqa: this.gqa,
      channels: (v) => {
        const ch = v ? self.values.get(v) : undefined;
        if (!ch?.split) return ch;
        self.freezeLabels(ch.labels, `${name} reads channels that ${ch.split.by} spread over several axes`);
        return undefined;
      },
      block: (v) => (v ? self.values.get(v) : undefined),
      dims: (v) => (v ? self.dimsOf(v) : undefined),
      constant: (v) => self.constant(v),
      constDims: (v) => {
        const c = self.constant(v);
        return c ? tensorDims(c.tensor) : undefined;
      },
      ints: (v) => {
        if (!v) return undefined;
        const c = self.constant(v);
        const values = self.shapes.values.get(v) ?? (c ? tensorInts(c.tensor, self.model.external) : undefined);
        // Sizes, bounds and axes are integers: a fractional vector (a float constant where an index belongs) is not one.
        return values?.every(Number.isInteger) ? values : undefined;
      },
      dimValues: (v) => {
        if (!v) return undefined;
        const folded = self.shapes.dimValues.get(v);
        if (folded) return folded;
        const c = self.constant(v);
        const int = c && (c.tensor.data_type === DataType.INT64 || c.tensor.data_type === DataType.INT32);
        return int ? tensorInts(c.tensor, self.model.external) : undefined;
      },
      origins: (v) => (v ? self.shapes.origins.get(v) : undefined),
      elemType: (v) => {
        if (!v) return undefined;
        const c = self.constant(v);
        return c ? c.tensor.data_type : self.shapes.shapes.get(v)?.elemType;
      },
      layer: () => layer,
      set: (v, ch) => {
        if (v) self.values.set(v, ch);
      },
      newUnits: (n) => self.allocate(n, layer, layer?.displayName ?? name),
      union: (a, b) => {
        if (a.length !== b.length) throw new PruneLensError('internal', `tying ${a.length} channels to ${b.length}`, { node: name });
        for (let i = 0; i < a.length; i++) self.units.union(a[i], b[i]);
      },
      freeze: (labels, reason) => self.freezeLabels(labels, reason),
      freezeInputs: (reason) => {
        for (const v of node.input) {
          const ch = v ? self.values.get(v) : undefined;
          if (ch) self.freezeLabels(ch.labels, reason);
        }
      },
      member: (input: number, axis: number, labels: Int32Array, role: MemberRole) => {
        self.members.push({ node, input, axis, labels, role });
      },
      layerChannels: (out, inn) => {
        if (!layer) return;
        self.layerChannels.push({ layer, out, in: inn });
        // A depthwise layer has no units of its own: ignoring it keeps the channels it shares with its input.
        if (out && self.ignored.has(layer)) self.freezeLabels(out, `layer ${layer.displayName} is ignored`);
      },
      fixup: (f) => self.fixups.push(f),
      evenBlocks: (labels, blocks) => self.evenBlocks.push({ labels, blocks }),
      tag: (labels, kind) => self.tags.push({ labels, kind }),
    };
  }

  private dimsOf(value: string): Dim[] | undefined {
    const c = this.constant(value);
    if (c) return tensorDims(c.tensor);
    return this.shapes.shapes.get(value)?.dims;
  }

  /** Values a subgraph (If, Loop, Scan) reads from the outer scope by name; their channels stay whole. */
  private freezeSubgraphCaptures(node: NodeProto): void {
    const visit = (g: GraphProto) => {
      for (const n of g.node) {
        for (const v of n.input) {
          const ch = v ? this.values.get(v) : undefined;
          if (ch) this.freezeLabels(ch.labels, `a subgraph of ${this.index.nameOf(node)} reads it`);
        }
        for (const a of n.attribute) [a.g, ...a.graphs].forEach((sub) => sub && visit(sub));
      }
    };
    for (const a of node.attribute) [a.g, ...a.graphs].forEach((sub) => sub && visit(sub));
  }

  /**
   * Groups are the connected components of sources under the unit unions. A
   * group's channel i is its i-th distinct unit, in source order, so a plain
   * Conv group numbers its channels like the Conv's filters.
   */
  private groups(): { groups: ChannelGroup[]; unitGroup: DepGraph['unitGroup'] } {
    const { units, sources } = this;
    const sourceOf = new Int32Array(units.size);
    sources.forEach((s, i) => sourceOf.fill(i, s.firstUnit, s.firstUnit + s.size));
    const parent = sources.map((_, i) => i);
    const find = (i: number): number => {
      while (parent[i] !== i) i = parent[i] = parent[parent[i]];
      return i;
    };
    for (let u = 0; u < units.size; u++) {
      const a = find(sourceOf[u]);
      const b = find(sourceOf[units.find(u)]);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    }
    const components = new Map<number, number[]>();
    sources.forEach((_, i) => {
      const r = find(i);
      if (!components.has(r)) components.set(r, []);
      components.get(r)!.push(i);
    });
    const groups: ChannelGroup[] = [];
    const unitGroup = new Map<number, { group: number; index: number }>();
    for (const comp of components.values()) {
      const layerSources = comp.map((i) => sources[i]).filter((s) => s.layer);
      if (!layerSources.length) continue;
      const id = groups.length;
      const list: number[] = [];
      let frozen: string | undefined;
      for (const i of comp) {
        const s = sources[i];
        for (let c = 0; c < s.size; c++) {
          const r = units.find(s.firstUnit + c);
          if (unitGroup.has(r)) continue;
          unitGroup.set(r, { group: id, index: list.length });
          list.push(r);
          frozen ??= units.frozenReason(r);
        }
      }
      groups.push({
        id, size: list.length, units: Int32Array.from(list), frozen, members: [],
        roots: layerSources.map((s) => s.layer!.displayName),
        rootNodes: layerSources.map((s) => s.layer!.name),
      });
    }
    this.describeMembers(groups, unitGroup);
    this.kinds(groups, unitGroup);
    for (const { labels, blocks } of this.evenBlocks) {
      const size = labels.length / blocks;
      const at = Array.from(labels, (u) => unitGroup.get(this.units.find(u)));
      const g = at[0]?.group;
      if (g === undefined || at.some((a) => a?.group !== g)) continue;
      // k's and v's Expands give the same blocks: keep one copy of each.
      const list = (groups[g].evenBlocks ??= []);
      for (let b = 0; b < blocks; b++) {
        const block = at.slice(b * size, (b + 1) * size).map((a) => a!.index);
        if (!list.some((l) => l.join() === block.join())) list.push(block);
      }
    }
    return { groups, unitGroup };
  }

  /** Heads and the hidden size are tagged by their rules; a group of Linears on [.., C] (MatMul) otherwise holds MLP neurons. */
  private kinds(groups: ChannelGroup[], unitGroup: DepGraph['unitGroup']): void {
    for (const { labels, kind } of this.tags) {
      const g = labels.length ? unitGroup.get(this.units.find(labels[0]))?.group : undefined;
      if (g !== undefined && groups[g].kind !== 'hidden') groups[g].kind = kind;
    }
    const layerOf = new Map([...this.layerOf.values()].map((l) => [l.name, l]));
    for (const g of groups) {
      // An inner layer (its channels have consumers), not the model's last projection.
      const inner = g.members.some((m) => m.endsWith(' in'));
      if (!g.kind && inner && g.rootNodes.every((n) => layerOf.get(n)?.op === 'MatMul')) g.kind = 'mlp';
    }
  }

  private describeMembers(groups: ChannelGroup[], unitGroup: DepGraph['unitGroup']): void {
    // Group of each unit root in an array, not the map: members of a language model have thousands of labels.
    const groupOf = new Int32Array(this.units.size).fill(-1);
    for (const [root, at] of unitGroup) groupOf[root] = at.group;
    const seen = groups.map(() => new Set<string>());
    for (const m of this.members) {
      const layer = this.layerOf.get(m.node);
      const who = layer?.displayName ?? displayName(m.node, m.node.input[1] ?? '', this.index.nameOf(m.node));
      const text = `${who} ${m.role}`;
      let last = -1;
      for (const u of m.labels) {
        // A label outside the array (units made after the groups) has no group, as with the map.
        const g = groupOf[this.units.find(u)] ?? -1;
        if (g < 0 || g === last) continue;
        last = g;
        if (seen[g].has(text)) continue;
        seen[g].add(text);
        groups[g].members.push(text);
      }
    }
  }
}
