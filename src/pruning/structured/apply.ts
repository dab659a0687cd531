// Applying a selection: every tensor slice in the removed channels' groups is
// cut, each tensor once (a shared tensor that its users need cut differently
// is cloned per distinct cut, so no other user sees a change), attribute and
// shape constants follow (Split sizes, Slice bounds, depthwise group), and
// value_info is updated. The selection is checked before anything changes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { rememberedZeros } from '../../analysis/norms';
import { newTensor, uniqueName } from '../../onnx/build';
import { deferredSlice, deferSlice } from '../../onnx/deferred';
import { PruneLensError } from '../../onnx/errors';
import { externalRef, resolveExternalPath } from '../../onnx/external';
import type { ConstantRef } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import type { NodeProto, TensorProto } from '../../onnx/schema';
import { composeKeeps, gatherAxes, type TensorSlice } from '../../onnx/slice';
import { DataType, dataTypeName, elementCount, elementSize, isExternal, setTensorBytes, tensorBytes, tensorDims } from '../../onnx/tensor';
import type { DepGraph, FixupContext, ValueChannels } from '../depgraph';
import { inferShapes, type ShapeInfo } from '../../onnx/shapes';
import { cutAccounting, type FrozenGroup, type LayerChange } from '../report';
import type { Selection } from './select';

export interface AppliedPrune {
  layers: LayerChange[];
  frozen: FrozenGroup[];
  warnings: string[];
}

/** Per constant input of a node, the indices kept along each of its axes. */
type Keeps = (number[] | undefined)[];

const applied = new WeakSet<DepGraph>();

/**
 * Cuts the selected channels out of `model`, in place. `graph` must have been
 * built from this very model object and is used up by the call. The caller
 * writes the result with saveModel (atomic); on an error nothing is written.
 */
export function applySelection(model: OnnxModel, graph: DepGraph, selection: Selection | Map<number, number[]>): AppliedPrune {
  if (graph.index.graph !== model.graph) {
    throw new PruneLensError('internal', 'the dependency graph was built from another model object; build it from the model being pruned');
  }
  if (applied.has(graph)) throw new PruneLensError('internal', 'this dependency graph was already applied; build a new one from a freshly loaded model');
  const remove = selection instanceof Map ? selection : selection.remove;
  const kept = keptFunction(graph, remove);
  checkNothingEmpties(graph, kept);
  applied.add(graph);

  const before = graph.layers.map((lc) => ({
    weight: elementCount(lc.layer.dims),
    biasDims: lc.layer.bias ? tensorDims(lc.layer.bias.tensor) : [0],
  }));
  const edits = collectEdits(graph, kept);
  cutTensors(model, graph, edits);
  const superseded: ConstantRef[] = [];
  const fixCtx: FixupContext = {
    model, index: graph.index, kept,
    setConstantInput: (node, input, tensor) => {
      const old = node.input[input] ? constantOf(graph, node.input[input]) : undefined;
      if (old) superseded.push(old);
      setConstantInput(model, node, input, tensor);
    },
  };
  for (const f of graph.fixups) f(fixCtx);
  removeUnused(model, superseded.flatMap((r) => r.via), superseded);
  updateValueInfo(model, graph, kept);
  checkPrunedShapes(model, graph, kept);

  const layers = graph.layers.map((lc, i): LayerChange => {
    const l = lc.layer;
    const wKeeps = edits.get(l.node)?.get(1);
    const bKeeps = edits.get(l.node)?.get(2);
    const weight = { before: before[i].weight, after: elementCount(l.dims.map((d, a) => wKeeps?.[a]?.length ?? d)) };
    const bias = { before: elementCount(before[i].biasDims), after: elementCount(before[i].biasDims.map((d, a) => bKeeps?.[a]?.length ?? d)) };
    const outBefore = lc.out?.length ?? l.dims[l.outAxis];
    const inBefore = lc.in?.length ?? (l.op === 'Conv' ? l.dims[1] * l.groups : l.dims[l.inAxis]);
    const keptOut = lc.out ? kept(lc.out) : undefined;
    return {
      layer: l.name,
      op: l.op,
      outBefore,
      outAfter: keptOut?.length ?? outBefore,
      inBefore,
      inAfter: lc.in ? kept(lc.in).length : inBefore,
      ...cutAccounting(l, graph.shapes, weight, bias),
      removed: keptOut ? complement(keptOut, outBefore) : [],
    };
  });
  const frozen = graph.groups.filter((g) => g.frozen).map((g) => ({ layers: g.roots, reason: g.frozen! }));
  return { layers, frozen, warnings: selection instanceof Map ? [] : selection.warnings };
}

function complement(keptIdx: number[], size: number): number[] {
  const keep = new Uint8Array(size);
  for (const i of keptIdx) keep[i] = 1;
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (!keep[i]) out.push(i);
  return out;
}

/** Validates the selection and returns kept(labels): the positions whose unit stays. */
function keptFunction(graph: DepGraph, remove: Map<number, number[]>): (labels: Int32Array) => number[] {
  const removedRoot = new Uint8Array(graph.units.size);
  for (const [gid, list] of remove) {
    const g = graph.groups[gid];
    if (!g) throw new PruneLensError('plan', `there is no channel group ${gid}`);
    if (g.frozen && list.length) throw new PruneLensError('plan', `the channels of ${g.roots.join(', ')} cannot be removed: ${g.frozen}`);
    const seen = new Set<number>();
    for (const i of list) {
      if (!Number.isInteger(i) || i < 0 || i >= g.size || seen.has(i)) {
        throw new PruneLensError('plan', `channel ${i} of group ${gid} (${g.roots.join(', ')}) is not a valid, distinct index below ${g.size}`);
      }
      seen.add(i);
      removedRoot[g.units[i]] = 1;
    }
  }
  const rootOf = new Int32Array(graph.units.size);
  for (let u = 0; u < rootOf.length; u++) rootOf[u] = graph.units.find(u);
  return (labels) => {
    const out: number[] = [];
    for (let p = 0; p < labels.length; p++) if (!removedRoot[rootOf[labels[p]]]) out.push(p);
    return out;
  };
}

function checkNothingEmpties(graph: DepGraph, kept: (l: Int32Array) => number[]): void {
  for (const [name, ch] of graph.values) {
    if (ch.labels.length && !kept(ch.labels).length) {
      throw new PruneLensError('plan', `the selection removes every channel of ${name}; at least one must stay`, { tensor: name });
    }
  }
  for (const o of graph.index.graphOutputs) {
    const ch = graph.values.get(o);
    if (ch && kept(ch.labels).length !== ch.labels.length) {
      throw new PruneLensError('internal', `the selection would change the shape of the graph output ${o}`, { tensor: o });
    }
  }
}

function collectEdits(graph: DepGraph, kept: (l: Int32Array) => number[]): Map<NodeProto, Map<number, Keeps>> {
  const edits = new Map<NodeProto, Map<number, Keeps>>();
  for (const m of graph.members) {
    const keep = kept(m.labels);
    if (keep.length === m.labels.length) continue;
    const ref = constantOf(graph, m.node.input[m.input])!;
    let perNode = edits.get(m.node);
    if (!perNode) edits.set(m.node, (perNode = new Map()));
    let keeps = perNode.get(m.input);
    if (!keeps) perNode.set(m.input, (keeps = new Array(tensorDims(ref.tensor).length).fill(undefined)));
    const prior = keeps[m.axis];
    if (prior && prior.join() !== keep.join()) {
      throw new PruneLensError('internal', `two rules cut axis ${m.axis} of ${m.node.input[m.input]} differently`, { tensor: m.node.input[m.input] });
    }
    keeps[m.axis] = keep;
  }
  return edits;
}

function constantOf(graph: DepGraph, name: string): ConstantRef | undefined {
  if (!graph.constants.has(name)) graph.constants.set(name, graph.index.constant(name));
  return graph.constants.get(name);
}

interface Use {
  node?: NodeProto;
  input: number;
}

/**
 * Slices every edited constant once. When all users of a tensor want the same
 * cut it is cut in place; otherwise each distinct cut gets its own new
 * initializer and the untouched users keep the original.
 */
function cutTensors(model: OnnxModel, graph: DepGraph, edits: Map<NodeProto, Map<number, Keeps>>): void {
  const uses = new Map<TensorProto, { ref: ConstantRef; list: Use[] }>();
  const addUse = (name: string, use: Use) => {
    const ref = constantOf(graph, name);
    if (!ref) return;
    let entry = uses.get(ref.tensor);
    if (!entry) uses.set(ref.tensor, (entry = { ref, list: [] }));
    entry.list.push(use);
  };
  for (const node of graph.index.nodes) {
    // An Identity over a constant is part of the path to the constant, not a user of it.
    if (node.op_type === 'Identity' && constantOf(graph, node.input[0] ?? '')) continue;
    node.input.forEach((name, input) => {
      if (name) addUse(name, { node, input });
    });
  }
  for (const o of graph.index.graphOutputs) addUse(o, { input: -1 });

  const keyOf = (u: Use) => {
    const k = u.node ? edits.get(u.node)?.get(u.input) : undefined;
    return k ? k.map((a) => (a ? a.join(',') : '*')).join('|') : '';
  };
  const deadCandidates: NodeProto[] = [];
  const replaced: ConstantRef[] = [];
  for (const { ref, list } of uses.values()) {
    const keys = list.map(keyOf);
    if (keys.every((k) => k === '')) continue;
    const t = ref.tensor;
    const cut = cutter(model, t);
    if (keys.every((k) => k === keys[0])) {
      updateInputDeclaration(model, ref, cut(edits.get(list[0].node!)!.get(list[0].input)!, t));
      continue;
    }
    const byKey = new Map<string, string>();
    list.forEach((use, i) => {
      if (!keys[i] || !use.node) return;
      let name = byKey.get(keys[i]);
      if (!name) {
        name = uniqueName(model.graph, `${ref.holder}_pruned`);
        const clone = newTensor(name, t.data_type ?? 1, [], new Uint8Array(0));
        cut(edits.get(use.node)!.get(use.input)!, clone);
        model.graph.initializer.push(clone);
        byKey.set(keys[i], name);
      }
      const old = constantOf(graph, use.node.input[use.input]);
      if (old) deadCandidates.push(...old.via);
      use.node.input[use.input] = name;
    });
    replaced.push(ref);
  }
  removeUnused(model, deadCandidates, replaced);
}

/**
 * How `t` is cut: a function that puts a cut of it into a tensor (itself, or
 * a new one) and returns the cut's dims. A tensor in external data (or a cut
 * of one not made yet) is not read: the cut is deferred (onnx/deferred.ts) and
 * made when the model is written, on worker threads, straight into the output.
 * Anything else is sliced in memory, read once for all its cuts.
 */
function cutter(model: OnnxModel, t: TensorProto): (keeps: Keeps, into: TensorProto) => number[] {
  const dims = tensorDims(t);
  const size = elementSize(t.data_type);
  const source = deferredSlice(t) ?? externalSource(model, t, dims, size);
  if (source) {
    const { slice, zeros } = source;
    // A slice of a tensor without zeros has none; other counts are made before the report needs them.
    return (keeps, into) => {
      const cut = { ...slice, keeps: composeKeeps(slice.keeps, keeps.map((k) => k && Int32Array.from(k))) as (Int32Array | undefined)[] };
      deferSlice(into, cut, zeros === 0 ? 0 : undefined);
      return into.dims.map(Number);
    };
  }
  const bytes = tensorBytes(t, model.external);
  return (keeps, into) => {
    const cutDims = dims.map((d, a) => keeps[a]?.length ?? d);
    setTensorBytes(into, cutDims, gatherAxes(bytes, dims, keeps, size));
    return cutDims;
  };
}

/** An external tensor as a slice that keeps everything, with its zeros if the analysis counted them. */
function externalSource(model: OnnxModel, t: TensorProto, dims: number[], size: number): { slice: TensorSlice; zeros?: number } | undefined {
  if (!isExternal(t) || !model.file || !size) return undefined;
  const ref = externalRef(t);
  // The checks tensorBytes would make on reading, made now: a bad reference fails the prune, not the write.
  if (ref.length !== elementCount(dims) * size) {
    throw new PruneLensError('tensor', `data holds ${ref.length} bytes, but ${dataTypeName(t.data_type)}[${dims.join(',')}] needs ${elementCount(dims) * size}`, { tensor: t.name });
  }
  const file = resolveExternalPath(path.dirname(model.file), ref.location, t.name);
  const has = fs.statSync(file).size;
  if (ref.offset + ref.length > has) {
    throw new PruneLensError('external-data', `external data needs bytes ${ref.offset}..${ref.offset + ref.length} of "${ref.location}", which has ${has}`, { tensor: t.name });
  }
  const dt = t.data_type ?? 0;
  return {
    slice: {
      file, offset: ref.offset, dims, keeps: dims.map(() => undefined), elemSize: size, tensor: t.name,
      floating: dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16 || dt === DataType.DOUBLE,
    },
    zeros: rememberedZeros(t),
  };
}

/** IR < 4 models list initializers among the graph inputs; keep that declaration's shape in step. */
function updateInputDeclaration(model: OnnxModel, ref: ConstantRef, dims: number[]): void {
  if (ref.kind !== 'initializer') return;
  const decl = model.graph.input.find((v) => v.name === ref.holder);
  const shape = decl?.type?.tensor_type?.shape;
  if (shape && shape.dim.length === dims.length) shape.dim.forEach((d, a) => (d.dim_value = dims[a]));
}

function setConstantInput(model: OnnxModel, node: NodeProto, input: number, tensor: TensorProto): void {
  tensor.name = uniqueName(model.graph, tensor.name || 'pruned_constant');
  model.graph.initializer.push(tensor);
  while (node.input.length <= input) node.input.push('');
  node.input[input] = tensor.name;
}

/** Drops the Identity nodes and constants that no longer feed anything after users were rewired. */
function removeUnused(model: OnnxModel, identities: NodeProto[], replaced: ConstantRef[]): void {
  if (!identities.length && !replaced.length) return;
  const g = model.graph;
  const referenced = () => {
    const s = new Set<string>();
    for (const n of g.node) for (const i of n.input) s.add(i);
    for (const o of g.output) if (o.name) s.add(o.name);
    return s;
  };
  let refs = referenced();
  const dead = new Set<NodeProto>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of identities) {
      if (dead.has(n) || refs.has(n.output[0])) continue;
      dead.add(n);
      changed = true;
    }
    if (changed) {
      g.node = g.node.filter((n) => !dead.has(n));
      refs = referenced();
    }
  }
  const goneInits = new Set(replaced.filter((r) => r.kind === 'initializer' && !refs.has(r.holder)).map((r) => r.tensor));
  const goneConsts = new Set(replaced.filter((r) => r.kind === 'constant-node' && !refs.has(r.holder)).map((r) => r.holder));
  if (goneInits.size) g.initializer = g.initializer.filter((t) => !goneInits.has(t));
  if (goneConsts.size) g.node = g.node.filter((n) => !(n.op_type === 'Constant' && goneConsts.has(n.output[0])));
  const goneValues = new Set([...dead].map((n) => n.output[0]).concat([...goneConsts]));
  if (goneValues.size) g.value_info = g.value_info.filter((v) => !goneValues.has(v.name ?? ''));
  const goneInputs = new Set([...goneInits].map((t) => t.name));
  if (goneInputs.size) g.input = g.input.filter((v) => !goneInputs.has(v.name));
}

/** value_info entries of values whose channel count changed get the new count. */
function updateValueInfo(model: OnnxModel, graph: DepGraph, kept: (l: Int32Array) => number[]): void {
  const declared = new Map(model.graph.value_info.map((v) => [v.name ?? '', v]));
  if (!declared.size) return;
  for (const [name, ch] of graph.values) {
    const vi = declared.get(name);
    if (!vi) continue;
    if (kept(ch.labels).length === ch.labels.length) continue;
    // Channels spread over several axes (a shuffle's [g, C/g]): only the shrinking axis changes.
    const { axis, size } = keptOnAxis(ch, kept);
    const dim = vi.type?.tensor_type?.shape?.dim[axis];
    if (!dim) continue;
    if (dim.dim_value !== undefined) dim.dim_value = size;
  }
}

/** Positions kept on the axis that shrinks: all of them, or per part when a Reshape spread the channels. */
function keptOnAxis(ch: ValueChannels, kept: (l: Int32Array) => number[]): { axis: number; size: number } {
  const n = kept(ch.labels).length;
  if (!ch.split) return { axis: ch.axis, size: n };
  const { sizes, shrink } = ch.split;
  return { axis: ch.axis + shrink, size: n / (ch.labels.length / sizes[shrink]) };
}

/**
 * The pruned graph's own shape inference must agree with the cut: every
 * tracked value has its kept channel count and every graph output its old
 * shape. A shape computation that no rule rewrote shows up here, as an error,
 * instead of as a model that fails when it runs.
 */
function checkPrunedShapes(model: OnnxModel, graph: DepGraph, kept: (l: Int32Array) => number[]): void {
  let info: ShapeInfo;
  try {
    info = inferShapes(model);
  } catch (e) {
    const why = e instanceof PruneLensError ? e.detail : String(e);
    throw new PruneLensError('internal', `the pruned model's shapes do not fit together (${why}); this model's shape computations are not handled`);
  }
  for (const [name, ch] of graph.values) {
    const { axis, size } = keptOnAxis(ch, kept);
    // A model whose own shapes already disagreed with its channels (a declared shape, a shape constant) is the file's fault.
    const was = graph.shapes.shapes.get(name)?.dims?.[axis];
    const all = keptOnAxis(ch, (l) => Array.from(l)).size;
    if (typeof was === 'number' && was !== all) {
      throw new PruneLensError('shape', `${name} has ${was} positions on axis ${axis} by the model's shapes, but ${all} channels reach it; the model's shapes do not fit together`, { tensor: name });
    }
    const d = info.shapes.get(name)?.dims?.[axis];
    if (typeof d === 'number' && d !== size) {
      throw new PruneLensError('internal', `after the cut ${name} would have ${d} positions on axis ${axis}, not the ${size} kept; this model's shape computations are not handled`, { tensor: name });
    }
  }
  for (const o of graph.index.graphOutputs) {
    const was = graph.shapes.shapes.get(o)?.dims;
    const now = info.shapes.get(o)?.dims;
    if (was && now && (was.length !== now.length || was.some((v, i) => typeof v === 'number' && typeof now[i] === 'number' && v !== now[i]))) {
      throw new PruneLensError('internal', `the cut would change the graph output ${o} from [${was.join(',')}] to [${now.join(',')}]`, { tensor: o });
    }
  }
}
