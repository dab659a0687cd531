// Intermediate values of a model on calibration data, for data-aware pruning
// (src/pruning/recovery): a copy of the model whose graph outputs are the
// values asked for, cut down to the nodes they need, run by onnxruntime on
// the calibration batches. The batches are read into memory once (their
// number is bounded by the calibration size); activations are handed out one
// batch at a time and never kept.

import * as path from 'node:path';
import { runOptions, SESSION_MEMORY_OPTIONS } from './native';
import { requireOrt } from './ortRuntime';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PruneLensError } from '../onnx/errors';
import { GraphIndex } from '../onnx/graph';
import { serializeModel, type OnnxModel } from '../onnx/model';
import type { NodeProto, ValueInfoProto } from '../onnx/schema';
import { DataType, dataTypeName, toNumber } from '../onnx/tensor';
import { newNode } from '../onnx/build';
import { concatChunks } from '../onnx/wire';
import type { GramBackend } from '../pruning/recovery/gram';
import type { ProductBackend } from '../pruning/recovery/products';
import type { Activation, ActivationRun, ActivationSource, HeldValue, SegmentRun } from '../pruning/recovery/source';
import { inferShapes } from '../onnx/shapes';
import { ortGram, ortProducts } from './gram';
import { Batch, ModelInput, openDataset, typedView } from './datasets';

export const DEFAULT_CALIBRATION_SIZE = 256;
export const DEFAULT_CALIBRATION_BATCH = 64;

export interface CalibrationSpec {
  /** .npy, .npz or folder of .npy files; seeded random inputs when absent. */
  data?: string;
  /** .npy of class labels (sensitivity analysis measures accuracy with them). */
  labels?: string;
  /** Samples used: the first `size` rows (default 256). */
  size?: number;
  /** Samples per run (default 64); smaller keeps large activations in bounds. */
  batch?: number;
  /** Seed of generated inputs. */
  seed?: number;
  /** Sizes of symbolic dimensions, for generated inputs. */
  dims?: Record<string, number>;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;
function ort(): Ort {
  // Loaded on first use, so importing this module costs nothing where it is not run.
  ortModule ??= requireOrt();
  return ortModule;
}

/** The calibration batches of `model`'s inputs, as an ActivationSource on onnxruntime (CPU). */
export async function openCalibration(model: OnnxModel, spec: CalibrationSpec): Promise<ActivationSource> {
  const size = spec.size ?? DEFAULT_CALIBRATION_SIZE;
  const batchSize = spec.batch ?? DEFAULT_CALIBRATION_BATCH;
  for (const [what, v] of [['calibration size', size], ['calibration batch', batchSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new PruneLensError('validation', `${what} must be a whole number of at least 1, not ${v}`);
  }
  const dataset = openDataset({ data: spec.data, labels: spec.labels, samples: size, batchSize, seed: spec.seed, dims: spec.dims }, modelInputs(model));
  const batches: Batch[] = [];
  const reader = dataset.open();
  try {
    for (let b = await reader.next(); b; b = await reader.next()) batches.push(b);
  } finally {
    reader.close();
  }
  if (!batches.length) throw new PruneLensError('validation', 'the calibration data holds no samples', {}, spec.data);
  const samples = batches.reduce((s, b) => s + b.rows, 0);
  return {
    batches: batches.length,
    samples,
    description: `${dataset.description}, ${samples} samples`,
    open: (m, values) => openRun(m, values, batches),
    openSegment: (m, from, values, hold) => openSegmentRun(m, from, values, hold, batches),
    labels: (b) => batches[b]?.labels,
    gram: lazyOrtGram(),
    products: lazyOrtProducts(),
  };
}

async function openRun(model: OnnxModel, values: string[], batches: Batch[]): Promise<ActivationRun> {
  const { bytes, outputs } = modelWithOutputs(model, values);
  const session = await createSession(bytes, model);
  return {
    async run(b) {
      const batch = batches[b];
      if (!batch) throw new PruneLensError('internal', `calibration batch ${b} does not exist (there are ${batches.length})`);
      const result = await session.run(batchFeeds(batch), outputs, runOptions('cpu'));
      const out = new Map<string, Activation>();
      values.forEach((v, k) => out.set(v, asActivation(v, result[outputs[k]])));
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * A session on the bytes of a cut copy of `model`. Weights still in the source's
 * external data stay there: onnxruntime reads them from the model's folder
 * (the copy only names them), so a session holds its own nodes' weights, never
 * the whole model's; weights already pruned are inline in the copy.
 */
async function createSession(bytes: Uint8Array, model: OnnxModel): Promise<InferenceSession> {
  const runtime = ort(); // outside the try: "not loaded in an untrusted workspace" is its own error
  const folder = model.file && model.externalLayout.layout !== 'none' ? path.dirname(path.resolve(model.file)) : undefined;
  try {
    return await runtime.InferenceSession.create(bytes, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all',
      extra: folder ? { ...SESSION_MEMORY_OPTIONS, session: { ...SESSION_MEMORY_OPTIONS.session, model_external_initializers_file_folder_path: folder } } : SESSION_MEMORY_OPTIONS,
    });
  } catch (e) {
    throw new PruneLensError('validation', `onnxruntime cannot load the model for calibration: ${String((e as Error).message ?? e).split('\n')[0]}`, {}, model.file);
  }
}

function batchFeeds(batch: Batch): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, input] of Object.entries(batch.inputs)) {
    feeds[name] = new (ort().Tensor)(input.type as 'float32', typedView(input.data, input.type) as Float32Array, input.dims);
  }
  return feeds;
}

/** A held value is the onnxruntime tensor itself, fed back as it came out. */
interface HeldTensor extends HeldValue { held: Tensor }

async function openSegmentRun(model: OnnxModel, from: string[], values: string[], hold: string[], batches: Batch[]): Promise<SegmentRun> {
  const { bytes, outputs, inputs } = segmentModel(model, from, values, hold);
  const session = await createSession(bytes, model);
  return {
    async run(b, held) {
      const batch = batches[b];
      if (!batch) throw new PruneLensError('internal', `calibration batch ${b} does not exist (there are ${batches.length})`);
      const all = batchFeeds(batch);
      const feeds: Record<string, Tensor> = {};
      for (const name of inputs) {
        const h = held.get(name) as HeldTensor | undefined;
        const t = h?.held ?? all[name];
        if (!t) throw new PruneLensError('internal', `segment input ${name} was not held from the segment before`);
        feeds[name] = t;
      }
      const result = await session.run(feeds, [...outputs, ...hold], runOptions('cpu'));
      const activations = new Map<string, Activation>();
      values.forEach((v, k) => activations.set(v, asActivation(v, result[outputs[k]])));
      const kept = new Map<string, HeldValue>(hold.map((h) => [h, { held: result[h] } as HeldTensor]));
      return { activations, held: kept };
    },
    release: () => session.release(),
  };
}

/**
 * A copy of `model` holding only the nodes between the values `from` (which
 * become graph inputs, beside any graph input those nodes read) and the
 * values asked for: `values` through a Cast to float32, `hold` as they are.
 * Types come from shape inference; a value it cannot type is refused.
 */
export function segmentModel(model: OnnxModel, from: string[], values: string[], hold: string[]): { bytes: Uint8Array; outputs: string[]; inputs: string[] } {
  const graph = model.graph;
  if (hasSubgraphs(graph.node)) throw new PruneLensError('unsupported', 'a model with subgraphs is not cut into segments (they read outer values by name)', {}, model.file);
  const index = new GraphIndex(graph);
  const types = inferShapes(model, index).shapes;
  const typed = (name: string): ValueInfoProto => {
    const t = types.get(name);
    if (!t?.elemType) throw new PruneLensError('unsupported', `the element type of ${name} is not known`, {}, model.file);
    return { name, type: { tensor_type: { elem_type: t.elemType } }, metadata_props: [] };
  };
  const sources = new Set(from);
  const nodes = neededNodes(index, [...values, ...hold], sources);
  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.output) if (o) produced.add(o);
  const initializers = new Set(graph.initializer.map((t) => t.name ?? ''));
  const read = new Set<string>([...values, ...hold]);
  for (const n of nodes) for (const i of n.input) if (i) read.add(i);
  // Inputs: held values and graph inputs that the kept nodes read and do not compute.
  const inputs = [...read].filter((v) => !produced.has(v) && !initializers.has(v) && (sources.has(v) || index.graphInputs.has(v)));
  const known = new Set<string>([...read, ...produced, ...initializers]);
  const names = values.map((v) => uniqueName(known, `${v}::float32`));
  const casts = values.map((v, k) => newNode('Cast', [v], [names[k]], names[k], { to: DataType.FLOAT }));
  const output: ValueInfoProto[] = [
    ...names.map((name) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT } }, metadata_props: [] })),
    ...hold.map(typed),
  ];
  const input = inputs.map((v) => graph.input.find((g) => g.name === v) ?? typed(v));
  const initializer = graph.initializer.filter((t) => read.has(t.name ?? ''));
  const copy = { ...model.proto, graph: { ...graph, node: [...nodes, ...casts], output, initializer, input, value_info: [] } };
  return { bytes: concatChunks(serializeModel(copy)), outputs: names, inputs };
}

/**
 * onnxruntime's Gram products (54× the JavaScript loop on a resnet18 layer, see the bench), opened on first use.
 * A long-lived process (the worker) releases it when done: each session holds a thread pool.
 */
function lazyOrtGram(): GramBackend {
  let opened: Promise<GramBackend> | undefined;
  return {
    name: 'onnxruntime',
    accumulate: async (eq, features, targets, rows) => (await (opened ??= ortGram())).accumulate(eq, features, targets, rows),
    async release() {
      const gram = opened;
      opened = undefined;
      await (await gram?.catch(() => undefined))?.release?.();
    },
  };
}

/** onnxruntime's float64 products for SparseGPT, opened on first use; released like the Gram products. */
function lazyOrtProducts(): ProductBackend {
  let opened: Promise<ProductBackend> | undefined;
  return {
    name: 'onnxruntime',
    multiply: async (a, b, m, k, n, transB) => (await (opened ??= ortProducts())).multiply(a, b, m, k, n, transB),
    subtractProduct: async (c, a, b, m, k, n) => (await (opened ??= ortProducts())).subtractProduct(c, a, b, m, k, n),
    async release() {
      const products = opened;
      opened = undefined;
      await (await products?.catch(() => undefined))?.release?.();
    },
  };
}

function asActivation(name: string, t: Tensor): Activation {
  if (t.type !== 'float32') throw new PruneLensError('unsupported', `value ${name} is ${t.type}; calibration reads float32 values only`);
  return { dims: t.dims.map(Number), data: t.data as Float32Array };
}

/** The model's graph inputs (initializers excluded), as the dataset reader wants them. */
export function modelInputs(model: OnnxModel): ModelInput[] {
  const index = new GraphIndex(model.graph);
  return model.graph.input.filter((v) => v.name && index.graphInputs.has(v.name)).map((v) => ({
    name: v.name!,
    type: dataTypeName(v.type?.tensor_type?.elem_type),
    shape: (v.type?.tensor_type?.shape?.dim ?? []).map((d) => (d.dim_value !== undefined ? toNumber(d.dim_value) : d.dim_param ?? '')),
  }));
}

/**
 * The bytes of a copy of `model` whose outputs are `values`, holding only the
 * nodes they depend on, and the names of those outputs: each value goes
 * through a Cast to float32, so that an fp16 or bf16 model's activations come
 * back as float32 (onnxruntime drops the Cast where the value is float32
 * already). The model itself is not changed; unchanged nodes and tensors are
 * copied byte for byte by the writer.
 */
export function modelWithOutputs(model: OnnxModel, values: string[]): { bytes: Uint8Array; outputs: string[] } {
  const graph = model.graph;
  const index = new GraphIndex(graph);
  const known = new Set<string>([...index.graphInputs, ...graph.initializer.map((t) => t.name ?? '')]);
  for (const n of graph.node) for (const o of n.output) if (o) known.add(o);
  for (const v of values) {
    if (!known.has(v)) throw new PruneLensError('graph', `the model has no value named ${v}`, {}, model.file);
  }
  const nodes = hasSubgraphs(graph.node) ? graph.node : neededNodes(index, values);
  const names = values.map((v) => uniqueName(known, `${v}::float32`));
  const casts = values.map((v, k) => newNode('Cast', [v], [names[k]], names[k], { to: DataType.FLOAT }));
  const outputs: ValueInfoProto[] = names.map((name) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT } }, metadata_props: [] }));
  // Initializers no kept node reads would only make onnxruntime warn.
  const read = new Set<string>(values);
  for (const n of nodes) for (const i of n.input) read.add(i);
  const initializer = graph.initializer.filter((t) => read.has(t.name ?? ''));
  const input = graph.input.filter((v) => index.graphInputs.has(v.name ?? '') || read.has(v.name ?? ''));
  const copy = { ...model.proto, graph: { ...graph, node: [...nodes, ...casts], output: outputs, initializer, input } };
  return { bytes: concatChunks(serializeModel(copy)), outputs: names };
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

/** Nodes on a path to `values` (not past `sources`), in their original order. */
function neededNodes(index: GraphIndex, values: string[], sources: Set<string> = new Set()): NodeProto[] {
  const needed = new Set<NodeProto>();
  const stack = [...values];
  const seen = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v) || sources.has(v)) continue;
    seen.add(v);
    const p = index.producer(v);
    if (!p || needed.has(p)) continue;
    needed.add(p);
    for (const i of p.input) if (i) stack.push(i);
  }
  return index.nodes.filter((n) => needed.has(n));
}

/** Subgraphs read outer values by name, which the cut above does not see: keep every node then. */
function hasSubgraphs(nodes: NodeProto[]): boolean {
  return nodes.some((n) => n.attribute.some((a) => a.g || a.graphs.length));
}
