// The layer table: for every prunable layer its channels, per-filter and
// per-input-channel norms, BN gammas, sparsity, params and MACs, plus model
// totals. One pure function of a model; the CLI, the extension, the webview
// and the pruning engine all read the same table.

import * as path from 'node:path';
import { externalRef, resolveExternalPath } from '../onnx/external';
import { GraphIndex } from '../onnx/graph';
import { OnnxModel, parseModel, readFileChunked } from '../onnx/model';
import { TensorScanner } from '../onnx/scan';
import { isPruneLensError, PruneLensError, withFile } from '../onnx/errors';
import { addDims, dimSymbols, evalDim, mulDims, prodDims } from '../onnx/dims';
import { assumeInputShape, inferShapes, type Dim, type ShapeInfo } from '../onnx/shapes';
import type { TensorProto } from '../onnx/schema';
import { DataType, dataTypeName, elementCount, elementSize, isExternal, tensorDims, tensorFloats } from '../onnx/tensor';
import { findAttention } from './attention';
import { findEmbeddings, tieLayers } from './embeddings';
import { findPrunableLayers, type PrunableLayer } from './layers';
import { AxisAccumulator, axisStats, meanNormalized, rememberStats, sqrtAll, toArray, zeroStats, type AxisStats } from './norms';
import { scopePath } from './names';
import { findNorms } from './normLayers';
import { computeStats } from './statsPool';
import type { StatsJob } from './statsJob';
import type { AttentionInfo, ChannelNorms, HeadScores, LayerInfo, LayerTable } from './types';

export * from './types';
export { findPrunableLayers, displayName, type PrunableLayer } from './layers';
export { scopePath, moduleOfParameter } from './names';
export { macsAt, attentionMacs, modelMacs, headsLabel } from './macs';
export { transformerBlocks, layerParts, type BlockInfo, type PartKind } from './blocks';

export interface AnalyzeFileOptions {
  signal?: AbortSignal;
  /** See AnalyzeOptions.inputShape. */
  inputShape?: AnalyzeOptions['inputShape'];
  /** Bytes processed (the .onnx, then the external weights) of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Threads for the weights in external data (default: one per core). */
  threads?: number;
}

/**
 * Reads and analyses a model file. Weight norms are computed while the file is
 * still being read (see TensorScanner), so analysing costs little more than
 * reading; weights in external data are read in chunks on worker threads
 * (statsPool.ts), so memory stays flat however large the model.
 */
export async function analyzeFile(file: string, opts: AnalyzeFileOptions = {}): Promise<LayerTable> {
  const early = new Map<number, AxisAccumulator>();
  const active: { acc: AxisAccumulator; start: number }[] = [];
  let scanner: TensorScanner | undefined;
  const bytes = await readFileChunked(file, {
    signal: opts.signal,
    onProgress: opts.onProgress,
    onData: (buf, available) => {
      scanner ??= new TensorScanner(buf, buf.length, (t) => {
        if (!FLOAT_TYPES.has(t.dataType) || t.dims.length < 2) return;
        const acc = new AxisAccumulator(buf.subarray(t.start, t.end), t.dims, 1, t.dataType);
        early.set(t.start, acc);
        active.push({ acc, start: t.start });
      });
      scanner.advance(available);
      for (const a of active) if (!a.acc.done) a.acc.feed(available - a.start);
    },
  });
  const model = parseModel(bytes, file);
  await precomputeExternalStats(model, bytes.length, opts);
  return analyzeModel(model, { early, inputShape: opts.inputShape });
}

/** analyzeModel, with the weights in external data read on worker threads first (a model loaded with loadModel). */
export async function analyzeModelAsync(model: OnnxModel, opts: AnalyzeFileOptions = {}): Promise<LayerTable> {
  if (model.file) await precomputeExternalStats(model, model.bytes.length, opts);
  return analyzeModel(model, { inputShape: opts.inputShape });
}

/**
 * Statistics of the prunable layers' weights that live in external data,
 * computed on worker threads and remembered (norms.ts rememberStats) for
 * analyzeModel and the pruning criteria.
 */
async function precomputeExternalStats(model: OnnxModel, onnxBytes: number, opts: AnalyzeFileOptions): Promise<void> {
  const layers = findPrunableLayers(new GraphIndex(model.graph)).filter((l) => isExternal(l.weight.tensor) && FLOAT_TYPES.has(l.weight.tensor.data_type ?? 0));
  const jobs: StatsJob[] = [];
  const owners: { tensor: TensorProto; groups: number }[] = [];
  const dir = path.dirname(model.file!);
  try {
    for (const l of layers) {
      const t = l.weight.tensor;
      if (owners.some((o) => o.tensor === t)) continue;
      const ref = externalRef(t);
      const dims = tensorDims(t);
      const dt = t.data_type ?? DataType.FLOAT;
      // The same check tensorBytes makes: the worker reads exactly `length` bytes as these dims.
      if (ref.length !== elementCount(dims) * elementSize(dt)) {
        throw new PruneLensError('tensor', `data holds ${ref.length} bytes, but ${dataTypeName(dt)}[${dims.join(',')}] needs ${elementCount(dims) * elementSize(dt)}`, { tensor: t.name });
      }
      jobs.push({
        file: resolveExternalPath(dir, ref.location, t.name), offset: ref.offset, length: ref.length,
        dataType: t.data_type ?? DataType.FLOAT, dims: l.dims, groups: l.groups, tensor: t.name,
      });
      owners.push({ tensor: t, groups: l.groups });
    }
    if (!jobs.length) return;
    const total = onnxBytes + jobs.reduce((n, j) => n + j.length, 0);
    let done = onnxBytes;
    const stats = await computeStats(jobs, {
      signal: opts.signal, threads: opts.threads,
      onProgress: (n) => opts.onProgress?.((done += n), total),
    });
    stats.forEach((s, i) => rememberStats(owners[i].tensor, jobs[i].dims, owners[i].groups, s));
  } catch (e) {
    throw withFile(e, model.file!);
  }
}

export interface AnalyzeOptions {
  /** Stats computed while reading, by the file offset of the tensor's raw_data. */
  early?: Map<number, AxisAccumulator>;
  /**
   * The input size to count MACs at when the model has named dims: shapes by
   * input name (or one shape for a one-input model), and where they came from.
   */
  inputShape?: {
    shapes: Record<string, number[]> | number[];
    source: string;
    /**
     * A size that may not fit (a setting, a sample file): when it does not, the
     * table says why (inputShapeMisfit) and counts without it, instead of failing.
     */
    ifFits?: boolean;
    /** The size of sample data, not one the user stated: a token model keeps counting per token. */
    fromSample?: boolean;
  };
  /**
   * Count zeros but skip the norms, which come out as 0: for a report after a
   * prune, which needs channels, params, MACs and zeros (a pass several times cheaper).
   */
  zerosOnly?: boolean;
}

/** Binds the stated input size; a misfit is an error, or with `ifFits` the reason it was not used. */
function stateInputShape(model: OnnxModel, shapes: ShapeInfo, stated: NonNullable<AnalyzeOptions['inputShape']>): LayerTable['inputShapeMisfit'] {
  try {
    assumeInputShape(model, shapes, stated.shapes, stated.source);
    return undefined;
  } catch (e) {
    if (!stated.ifFits || !isPruneLensError(e)) throw e;
    return { source: stated.source, reason: e.detail };
  }
}

export function analyzeModel(model: OnnxModel, opts: AnalyzeOptions = {}): LayerTable {
  try {
    const index = new GraphIndex(model.graph);
    const shapes = inferShapes(model, index);
    const sequenceDim = findSequenceDim(model, index, shapes);
    // A token model counts per token, at a length of its own (macsAt), unless the user states a size.
    const stated = opts.inputShape?.fromSample && sequenceDim ? undefined : opts.inputShape;
    const misfit = stated && stateInputShape(model, shapes, stated);
    const found = findPrunableLayers(index, { transposedWeights: true });
    const embeddings = findEmbeddings(index);
    const tied = tieLayers(model, index, embeddings, found);
    const attention = findAttention(model, index, found, shapes);
    const position = new Map(index.nodes.map((n, i) => [n, i]));
    const layers = found.map((l) => describeLayer(model, l, shapes, opts, sequenceDim, position.get(l.node) ?? -1));
    nameTiedHeads(layers, tied, embeddings);
    addHeadScores(layers, attention);
    const formula = layers.reduce<Dim>((sum, l) => addDims(sum, l.macsFormula ?? l.macs), 0);
    return {
      file: model.file ?? '',
      producer: [model.proto.producer_name, model.proto.producer_version].filter(Boolean).join(' '),
      opset: model.opset(),
      inputs: model.graph.input.filter((v) => v.name && !index.initializer(v.name)).map((v) => valueDesc(v.name!, shapes)),
      outputs: model.graph.output.map((v) => valueDesc(v.name ?? '', shapes)),
      layers,
      norms: findNorms(model, index),
      embeddings,
      attention,
      sequenceDim,
      totals: { ...totals(model, index, layers), ...(typeof formula === 'string' ? { macsFormula: formula } : {}) },
      ...(shapes.assumed ? { assumedInput: { shapes: shapes.assumed.shapes, source: shapes.assumed.source } } : {}),
      ...(misfit ? { inputShapeMisfit: misfit } : {}),
    };
  } catch (e) {
    throw model.file ? withFile(e, model.file) : e;
  }
}

/** The names a user may call a layer by: node name, module path, weight name. */
export function layerAliases(l: Pick<LayerInfo, 'name' | 'displayName' | 'weightName'>): string[] {
  return [...new Set([l.name, l.displayName, l.weightName])];
}

function valueDesc(name: string, info: ShapeInfo) {
  const s = info.shapes.get(name);
  return { name, shape: s?.dims ?? [], dtype: dataTypeName(s?.elemType) };
}

function describeLayer(model: OnnxModel, l: PrunableLayer, info: ShapeInfo, opts: AnalyzeOptions, sequenceDim: string | undefined, position: number): LayerInfo {
  const stats = opts.zerosOnly ? zeroStats(l.weight.tensor, l.dims, l.groups, model.external)
    : earlyStats(model, l, opts) ?? axisStats(l.weight.tensor, l.dims, l.groups, model.external);
  // axis 0 stats are per index of dims[0]; axis 1 stats are widened by groups to real channels.
  const a: ChannelNorms = norms(toArray(stats.l1a), sqrtAll(stats.l2a));
  const b: ChannelNorms = norms(toArray(stats.l1b), sqrtAll(stats.l2b));
  const out = l.outAxis === 0 ? a : b;
  const inn = l.outAxis === 0 ? b : a;
  const weightCount = elementCount(l.dims);
  const biasCount = l.bias ? safeCount(l.bias.tensor) : 0;
  const gamma = l.batchNorm?.scale ? Array.from(tensorFloats(l.batchNorm.scale.tensor, model.external)) : undefined;
  return {
    name: l.name,
    displayName: l.displayName,
    position,
    op: l.op,
    weightName: l.weightName,
    biasName: l.biasName,
    weightShape: l.dims,
    inChannels: inn.l1.length,
    outChannels: out.l1.length,
    groups: l.groups,
    out,
    in: inn,
    batchNorm: l.batchNorm && gamma ? { node: l.batchNorm.name, scaleName: l.batchNorm.scale!.holder, gamma } : undefined,
    ...(l.transposedBy ? { transposedWeight: true } : {}),
    params: weightCount + biasCount,
    macs: layerMacs(l, weightCount, info),
    ...(tokenAxis(l, info, sequenceDim) ? { tokenAxis: sequenceDim } : {}),
    ...macsFormulaOf(l, weightCount, info),
    ...macsDependsOnOf(l, weightCount, info),
    zeros: stats.zeros,
    sparsity: weightCount ? stats.zeros / weightCount : 0,
  };
}

/**
 * The symbolic sequence dim of a token model: the second dim of an input whose
 * first two dims are both symbolic (`input_ids [batch, sequence]`).
 */
function findSequenceDim(model: OnnxModel, index: GraphIndex, info: ShapeInfo): string | undefined {
  for (const name of index.graphInputs) {
    const d = info.shapes.get(name)?.dims;
    if (d && d.length >= 2 && d.length <= 3 && typeof d[0] === 'string' && typeof d[1] === 'string') return d[1];
  }
  return undefined;
}

/**
 * Whether the layer runs once per token of the symbolic sequence (its MACs are
 * per token): a MatMul whose token dims are symbolic, or unknown where the
 * shape inference lost them behind a run-time Reshape. (With the symbolic
 * shapes of src/onnx/shapes.ts carrying `sequence` through, the unknown case goes away.)
 */
function tokenAxis(l: PrunableLayer, info: ShapeInfo, sequenceDim: string | undefined): boolean {
  // A stated input size already counts the tokens: the MACs are no longer per token.
  if (!sequenceDim || l.op !== 'MatMul' || info.assumed?.dims[sequenceDim] !== undefined) return false;
  const out = info.shapes.get(l.node.output[0])?.dims;
  return !out || out.slice(1, -1).some((d) => typeof d === 'string');
}

/**
 * A layer tied to an embedding is named by its node's scope; when the name it got
 * says nothing (`/MatMul`) or is the embedding's own (read off the shared weight), it is the lm_head.
 */
function nameTiedHeads(layers: LayerInfo[], tied: Map<string, string>, embeddings: { weightName: string; displayName: string }[]): void {
  for (const l of layers) {
    const table = tied.get(l.name);
    if (!table) continue;
    l.tiedTo = table;
    const e = embeddings.find((x) => x.weightName === table);
    if (l.displayName === l.name || l.displayName === e?.displayName) l.displayName = scopePath(l.name) ?? 'lm_head';
  }
}

/** Per-head sums of the per-channel scores of each projection of an attention block. */
function addHeadScores(layers: LayerInfo[], attention: AttentionInfo[]): void {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const put = (name: string | undefined, a: AttentionInfo, role: HeadScores['role'], count: number, side: 'out' | 'in') => {
    const l = name ? byName.get(name) : undefined;
    if (!l) return;
    const norms = l[side];
    // A fused qkv holds [q | k | v], each heads × dim: head h is rows h·dim.. of all three blocks.
    const block = count * a.headDim;
    const sum = (v: number[]) => {
      const out = new Array<number>(count).fill(0);
      for (let c = 0; c < v.length; c++) out[Math.floor((c % block) / a.headDim)] += v[c];
      return out;
    };
    if (norms.l1.length % block !== 0) return;
    l.heads = { attention: a.name, role, count, dim: a.headDim, l1: sum(norms.l1), l2: sum(norms.l2) };
  };
  for (const a of attention) {
    put(a.qkv, a, 'qkv', a.heads, 'out');
    put(a.q, a, 'q', a.heads, 'out');
    put(a.k, a, 'k', a.kvHeads, 'out');
    put(a.v, a, 'v', a.kvHeads, 'out');
    put(a.o, a, 'o', a.heads, 'in');
  }
}

/** Stats computed during the read, if they are for exactly this tensor and layout. */
function earlyStats(model: OnnxModel, l: PrunableLayer, opts: AnalyzeOptions): AxisStats | undefined {
  const raw = l.weight.tensor.raw_data;
  if (!opts.early || !raw || l.groups !== 1 || raw.buffer !== model.bytes.buffer) return undefined;
  const acc = opts.early.get(raw.byteOffset - model.bytes.byteOffset);
  if (!acc || !acc.done || acc.dims.join() !== l.dims.join()) return undefined;
  return acc.stats;
}

function norms(l1: number[], l2: number[]): ChannelNorms {
  return { l1, l2, l1Normalized: meanNormalized(l1), l2Normalized: meanNormalized(l2) };
}

function safeCount(t: Parameters<typeof tensorDims>[0]): number {
  try {
    return elementCount(tensorDims(t));
  } catch {
    return 0;
  }
}

/**
 * Multiply-accumulates per sample, as a formula over the model's named dims:
 * every weight is used once per output position (Conv: per output pixel,
 * ConvTranspose: per input pixel, Gemm: per row, MatMul: per row of every
 * leading dim). A named batch dim counts as 1.
 */
export function layerMacsDim(l: PrunableLayer, weightCount: number, info: ShapeInfo): Dim {
  const outDims = info.shapes.get(l.node.output[0])?.dims;
  const inDims = info.shapes.get(l.node.input[0])?.dims;
  switch (l.op) {
    case 'Conv': return mulDims(weightCount, prodDims(outDims?.slice(2) ?? []));
    case 'ConvTranspose': return mulDims(weightCount, prodDims(inDims?.slice(2) ?? []));
    case 'Gemm': {
      const rows = outDims?.[0];
      return weightCount * (typeof rows === 'number' ? rows : 1);
    }
    case 'MatMul': return mulDims(weightCount, prodDims(perSample(outDims?.slice(0, -1) ?? [])));
  }
}

/** A named leading dim is the batch: counts are per sample. */
const perSample = (d: Dim[]) => d.map((v, i) => (i === 0 && typeof v === 'string' ? 1 : v));

/**
 * MACs per sample as a number: the formula at the assumed input size; without
 * one, a named dim counts as 1 (and `?`, a size nothing is known about, too).
 */
export function layerMacs(l: PrunableLayer, weightCount: number, info: ShapeInfo): number {
  const d = layerMacsDim(l, weightCount, info);
  if (typeof d === 'number') return d;
  const env: Record<string, number> = {};
  for (const s of dimSymbols(d)) env[s] = info.assumed?.dims[s] ?? 1;
  return evalDim(d, env) ?? fallbackMacs(l, weightCount, info);
}

/** The old count, where a formula cannot be evaluated: every unknown dim as 1. */
function fallbackMacs(l: PrunableLayer, weightCount: number, info: ShapeInfo): number {
  const numeric = (d: Dim[] | undefined) => (d ?? []).reduce<number>((p, v) => p * (typeof v === 'number' ? v : 1), 1);
  const outDims = info.shapes.get(l.node.output[0])?.dims;
  const inDims = info.shapes.get(l.node.input[0])?.dims;
  switch (l.op) {
    case 'Conv': return weightCount * numeric(outDims?.slice(2));
    case 'ConvTranspose': return weightCount * numeric(inDims?.slice(2));
    case 'Gemm': return layerMacsDim(l, weightCount, info) as number;
    case 'MatMul': return weightCount * numeric(outDims?.slice(0, -1));
  }
}

function macsFormulaOf(l: PrunableLayer, weightCount: number, info: ShapeInfo): { macsFormula?: string } {
  const d = layerMacsDim(l, weightCount, info);
  return typeof d === 'string' ? { macsFormula: d } : {};
}

/**
 * The sizes `macs` still depends on: named dims the stated input size does not
 * bind (each counted as 1), or `sizes known only at run time` where a dim is not known at
 * all. Absent when the count is exact.
 */
function macsDependsOnOf(l: PrunableLayer, weightCount: number, info: ShapeInfo): { macsDependsOn?: string[] } {
  const d = layerMacsDim(l, weightCount, info);
  if (typeof d === 'number') return {};
  const symbols = dimSymbols(d);
  if (!symbols.length) return { macsDependsOn: [UNKNOWN_SIZE] };
  const open = symbols.filter((s) => info.assumed?.dims[s] === undefined);
  return open.length ? { macsDependsOn: open } : {};
}

export const UNKNOWN_SIZE = 'sizes known only at run time';

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/** Floating-point constants (initializers and Constant nodes), each counted once however many nodes share it. */
export function floatParams(model: OnnxModel, index = new GraphIndex(model.graph)): number {
  let params = 0;
  for (const t of model.graph.initializer) if (FLOAT_TYPES.has(t.data_type ?? 0)) params += safeCount(t);
  for (const n of index.nodes) {
    if (n.op_type !== 'Constant') continue;
    const c = index.constant(n.output[0]);
    if (c && FLOAT_TYPES.has(c.tensor.data_type ?? 0)) params += safeCount(c.tensor);
  }
  return params;
}

function totals(model: OnnxModel, index: GraphIndex, layers: LayerInfo[]) {
  const params = floatParams(model, index);
  let zeros = 0;
  let weights = 0;
  let macs = 0;
  for (const l of layers) {
    zeros += l.zeros;
    weights += elementCount(l.weightShape);
    macs += l.macs;
  }
  // The model's size on disk: its external data files too.
  return { params, macs, zeros, sparsity: weights ? zeros / weights : 0, bytes: model.fileBytes };
}
