// The whole-pipeline fuzzer shared by test/unit/onnx/fuzz.test.ts and
// scripts/fuzz.ts (--target pipeline).
//
// Cases are mutations of models that parse: the real models of ../shared/models
// (CNNs, the dynamic-shape YOLOv8 and ShuffleNet exports, the ViT and the two
// language models), the fixture builders' models and the synthetic model of
// fuzz.ts. The mutations are edits of the decoded tree re-encoded as valid
// protobuf: the generic ones of fuzz.ts, plus targeted ones that reach the
// dependency graph: the integer constants of shape computations (Reshape
// targets, Slice starts/ends/axes, Split sizes, Gather indices, Concat of
// shapes), the attributes of shape and channel ops (axis, split, perm, group),
// the declared dims of graph inputs, and weight dims that keep the element count.
//
// Each case runs analysis, the dependency graph, one registered criterion
// (data-aware ones get synthetic activation statistics), selection, apply (or
// an unstructured mask step), the writer, and re-reads what it wrote. The only
// acceptable failure is a PruneLensError that is not 'internal' and names the
// file. Differential check: when the pipeline produced a model and onnxruntime
// accepts the mutated input, onnxruntime must accept the output too.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { analyzeModel } from '../../src/analysis';
import { findPrunableLayers } from '../../src/analysis/layers';
import { int64Tensor } from '../../src/onnx/build';
import { decodeMessage, encodeMessage } from '../../src/onnx/codec';
import { PruneLensError, withFile } from '../../src/onnx/errors';
import { GraphIndex } from '../../src/onnx/graph';
import { parseModel, serializeModel, type OnnxModel } from '../../src/onnx/model';
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/schema';
import { DataType, tensorDims, tensorInts, toNumber } from '../../src/onnx/tensor';
import { concatChunks } from '../../src/onnx/wire';
import { applySelection, buildDependencyGraph, criterionNames, scoreGroups, selectChannels } from '../../src/pruning/structured';
import { DATA_AWARE_METHODS, type MaskMethod } from '../../src/pruning/methods';
import { attachActivationStats } from '../../src/pruning/recovery';
import { applyMaskStep } from '../../src/pruning/unstructured';
import { FIXTURES } from '../fixtures/models/builders';
import { EXTERNAL_BYTES, mutateTree, syntheticModelBytes, type Rand } from './fuzz';
import { modelPath, seededRandom } from './models';

export interface PipelineSeed {
  name: string;
  bytes: Uint8Array;
  /** Relative frequency: large models cost more per case. */
  weight: number;
}

/** [file, weight]: the small models come up often, the language models and detectors less. */
const REAL: [string, number][] = [
  ['digits_lenet.onnx', 3], ['digits_mlp.onnx', 2], ['digits_resnet_slim_s1e-2.onnx', 3], ['digits_vgg_slim_s1e-2.onnx', 2],
  ['digits_vit.onnx', 1.5], ['shufflenet_dyn.onnx', 0.6], ['yolov8_dyn.onnx', 0.6], ['lm_gpt_licenses.onnx', 0.25],
  ['lm_llama_licenses.onnx', 0.25],
];

export function loadPipelineSeeds(): PipelineSeed[] {
  const seeds: PipelineSeed[] = REAL.map(([name, weight]) => ({ name, weight, bytes: new Uint8Array(fs.readFileSync(modelPath(name))) }));
  for (const f of FIXTURES) seeds.push({ name: `fixture:${f.name}`, weight: 2, bytes: concatChunks(serializeModel(f.build())) });
  seeds.push({ name: 'synthetic', weight: 2, bytes: syntheticModelBytes() });
  return seeds;
}

export interface PipelineCase {
  seed: number;
  index: number;
  source: string;
  /** The mutations applied, in order. */
  kind: string;
  bytes: Uint8Array;
  /** What runs on it. */
  job: Job;
}

type Job =
  | { type: 'structured'; criterion: string; scope: 'local' | 'global'; ratio: number; roundTo?: number; maxRatio?: number }
  | { type: 'mask'; method: MaskMethod; granularity: 'element' | 'filter' | 'channel'; amount: number; scope: 'local' | 'global' };

const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, list: readonly T[]): T => list[int(rand, list.length)];

/** Values that break shape arithmetic: zero, negatives, off by one, huge. */
function oddInt(rand: Rand, orig: number): number | bigint {
  return pick(rand, [0, 1, -1, 2, -2, orig + 1, orig - 1, orig * 2, -orig, 3, 7, 500_000_000, 2 ** 31 - 1, 2 ** 40,
    9223372036854775807n, -9223372036854775808n]);
}

// Ops whose integer inputs and attributes are shapes, axes or sizes.
const SHAPE_OPS = new Set(['Reshape', 'Slice', 'Split', 'Concat', 'Gather', 'Unsqueeze', 'Squeeze', 'Expand', 'Tile', 'Transpose',
  'Flatten', 'Shape', 'ConstantOfShape', 'Div', 'Mul', 'Add', 'Sub', 'Range', 'Pad', 'Resize', 'ReduceMean', 'ReduceSum', 'Cast']);
const SHAPE_ATTRS = new Set(['axis', 'axes', 'split', 'perm', 'starts', 'ends', 'group', 'keepdims', 'allowzero', 'num_outputs',
  'kernel_shape', 'pads', 'strides', 'dilations', 'transA', 'transB', 'to', 'start', 'end']);

/** Integer tensors that feed shape ops: initializers and Constant-node values. */
function intConstants(proto: ModelProto): { tensor: TensorProto; replace: (t: TensorProto) => void }[] {
  const g = proto.graph!;
  const fed = new Set(g.node.filter((n) => SHAPE_OPS.has(n.op_type ?? '')).flatMap((n) => n.input));
  const isInt = (t: TensorProto) => t.data_type === DataType.INT64 || t.data_type === DataType.INT32;
  const out: { tensor: TensorProto; replace: (t: TensorProto) => void }[] = [];
  g.initializer.forEach((t, i) => {
    if (isInt(t) && fed.has(t.name ?? '')) out.push({ tensor: t, replace: (n) => { g.initializer[i] = n; } });
  });
  for (const n of g.node) {
    if (n.op_type !== 'Constant') continue;
    const a = n.attribute.find((x) => x.name === 'value' && x.t);
    if (a?.t && isInt(a.t) && fed.has(n.output[0])) out.push({ tensor: a.t, replace: (t) => { a.t = t; } });
  }
  return out;
}

const MODEL_MUTATORS: Record<string, (rand: Rand, proto: ModelProto) => void> = {
  /** One element of a shape constant changed, dropped or duplicated. */
  shapeConstant(rand, proto) {
    const cs = intConstants(proto);
    if (!cs.length) return;
    const c = pick(rand, cs);
    let values: (number | bigint)[];
    try {
      values = tensorInts(c.tensor);
    } catch {
      return;
    }
    const scalar = tensorDims(c.tensor).length === 0;
    const r = rand();
    if (r < 0.6 || scalar || !values.length) {
      if (!values.length) return;
      const i = int(rand, values.length);
      values[i] = oddInt(rand, Number(values[i]));
    } else if (r < 0.8) values.splice(int(rand, values.length), 1);
    else values.push(values[int(rand, values.length)]);
    const dims = scalar ? [] : [values.length];
    c.replace(int64Tensor(c.tensor.name ?? '', dims, values as number[]));
  },
  /** An attribute of a shape or channel op set to an odd value. */
  shapeAttribute(rand, proto) {
    const nodes = proto.graph!.node.filter((n) => n.attribute.some((a) => SHAPE_ATTRS.has(a.name ?? '')));
    if (!nodes.length) return;
    const n = pick(rand, nodes);
    const a = pick(rand, n.attribute.filter((x) => SHAPE_ATTRS.has(x.name ?? '')));
    if (a.ints.length) {
      if (rand() < 0.7) {
        const i = int(rand, a.ints.length);
        a.ints[i] = oddInt(rand, toNumber(a.ints[i]));
      } else if (rand() < 0.5) a.ints.pop();
      else a.ints.push(a.ints[0]);
    } else if (a.i !== undefined) a.i = oddInt(rand, toNumber(a.i));
  },
  /** The group of a Conv: a divisor of the channel count, a non-divisor, or odd values. */
  convGroup(rand, proto) {
    const convs = proto.graph!.node.filter((n) => n.op_type === 'Conv' || n.op_type === 'ConvTranspose');
    if (!convs.length) return;
    const n = pick(rand, convs);
    const a = n.attribute.find((x) => x.name === 'group');
    const v = pick(rand, [1, 2, 3, 4, 5, 8, 16, 0, -1, 2 ** 31 - 1]);
    if (a) a.i = v;
    else n.attribute.push({ name: 'group', type: 2, i: v, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] });
  },
  /** A declared dim of a graph input or output: huge, zero, symbolic or missing. */
  valueDims(rand, proto) {
    const g = proto.graph!;
    const vis = [...g.input, ...g.output, ...g.value_info].filter((v) => v?.type?.tensor_type?.shape?.dim?.length);
    if (!vis.length) return;
    const v = pick(rand, vis);
    const dims = v.type!.tensor_type!.shape!.dim;
    const i = int(rand, dims.length);
    const r = rand();
    if (r < 0.6) dims[i] = { dim_value: pick(rand, [0, 1, 3, 7, 500_000_000, 2 ** 31, 2 ** 53, -1]) };
    else if (r < 0.75) dims[i] = { dim_param: pick(rand, ['N', 'batch', 'weird']) };
    else if (r < 0.9) dims.splice(i, 1);
    else dims.push({ dim_value: pick(rand, [1, 2, 3]) });
  },
  /** A weight's dims permuted or refactored, keeping its element count (the data still fits). */
  weightDims(rand, proto) {
    const g = proto.graph!;
    const ws = g.initializer.filter((t) => t.dims.length >= 2);
    if (!ws.length) return;
    const t = pick(rand, ws);
    const dims = t.dims.map(toNumber);
    const i = int(rand, dims.length);
    const j = int(rand, dims.length);
    if (rand() < 0.5) [dims[i], dims[j]] = [dims[j], dims[i]];
    else if (dims[i] % 2 === 0) {
      dims[i] /= 2;
      dims[j] *= 2;
    }
    t.dims = dims;
  },
};

const MUTATOR_NAMES = [...Object.keys(MODEL_MUTATORS), 'tree'];

/** Case `index` of run `seed` (deterministic, replays alone). */
export function makePipelineCase(seed: number, index: number, seeds: PipelineSeed[]): PipelineCase {
  const rand = seededRandom((Math.imul(seed, 0x2545f491) ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
  const total = seeds.reduce((a, s) => a + s.weight, 0);
  let r = rand() * total;
  const s = seeds.find((x) => (r -= x.weight) < 0) ?? seeds[seeds.length - 1];
  const proto = decodeMessage<ModelProto>('ModelProto', s.bytes);
  const kinds: string[] = [];
  // A few cases stay unmutated, so the differential check also covers the seeds themselves.
  const n = rand() < 0.05 ? 0 : 1 + int(rand, 3);
  for (let k = 0; k < n; k++) {
    const kind = pick(rand, MUTATOR_NAMES);
    kinds.push(kind);
    try {
      if (kind === 'tree') mutateTree(rand, proto);
      else MODEL_MUTATORS[kind](rand, proto);
    } catch {
      // An earlier tree edit removed what this mutator edits (the graph, a list): a generator limit, not a case.
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = concatChunks(encodeMessage('ModelProto', proto));
  } catch {
    bytes = s.bytes; // a generator edit with a value of the wrong JS type; see fuzz.ts
  }
  const criteria = criterionNames();
  const job: Job = rand() < 0.75
    ? {
      type: 'structured', criterion: pick(rand, criteria), scope: rand() < 0.5 ? 'local' : 'global',
      ratio: pick(rand, [0, 0.1, 0.25, 0.5, 0.9, 0.999]),
      roundTo: rand() < 0.2 ? pick(rand, [1, 2, 4, 8]) : undefined,
      maxRatio: rand() < 0.2 ? pick(rand, [0, 0.5, 1]) : undefined,
    }
    : {
      type: 'mask', method: pick(rand, ['l1', 'l2', 'random', 'bn-gamma'] as MaskMethod[]),
      granularity: pick(rand, ['element', 'filter', 'channel'] as const), amount: pick(rand, [0, 0.2, 0.5, 1]),
      scope: rand() < 0.5 ? 'local' : 'global',
    };
  if (job.type === 'mask' && job.method === 'bn-gamma') job.granularity = 'filter';
  return { seed, index, source: s.name, kind: kinds.join('+') || 'none', bytes, job };
}

export class PipelineFailure extends Error {
  constructor(readonly fuzzCase: PipelineCase, override readonly cause: unknown, readonly what: string) {
    super(`${what} on seed ${fuzzCase.seed} case ${fuzzCase.index} (${fuzzCase.kind} of ${fuzzCase.source}, ` +
      `${JSON.stringify(fuzzCase.job)}; replay: npx tsx scripts/fuzz.ts --target pipeline --seed ${fuzzCase.seed} ` +
      `--first ${fuzzCase.index} --cases 1): ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
  }
}

export type PipelineStage = 'parse' | 'analysis' | 'depgraph' | 'score' | 'select' | 'apply' | 'pruned';

export interface PipelineOutcome {
  /** The stage that refused the model with a PruneLensError, or 'pruned'. */
  stage: PipelineStage;
  code?: string;
  /** onnxruntime's verdict on the input and the output; undefined where it was not asked. */
  ortBefore?: boolean;
  ortAfter?: boolean;
  /** onnxruntime's process died on the input (its bug, on a malformed model; not counted against the pipeline). */
  ortCrashed?: boolean;
  /** True when the output differs from the input. */
  changed: boolean;
  ms: number;
}

function acceptable(e: unknown, file: string): e is PruneLensError {
  return e instanceof PruneLensError && e.code !== 'internal' && e.message.startsWith(file + ': ');
}

/** onnxruntime's verdict on a model: loaded, refused (with its message), or crashed (the process died). */
export interface OrtVerdict {
  ok: boolean;
  error?: string;
  crashed?: boolean;
}

/**
 * Asks onnxruntime, in a child process, whether it loads a model. onnxruntime
 * can crash on malformed input (a Conv with group 0 is a SIGFPE); a crash
 * answers { crashed: true } and the next check gets a fresh child.
 */
export class OrtChecker {
  private child?: ChildProcess;
  private started?: Promise<void>;
  private next = 1;

  /**
   * Starts onnxruntime's process (again, after a crash) and waits until it has
   * loaded onnxruntime: seconds on a loaded machine, which are no case's time.
   */
  ready(): Promise<void> {
    if (this.child && this.started) return this.started;
    const child = this.child = fork(path.join(__dirname, 'ort-check-child.js'), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    this.started = new Promise<void>((resolve) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (!m.ready) return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      // A child that dies while loading is seen by check(), as a crash.
      child.once('exit', () => resolve());
    });
    return this.started;
  }

  async check(bytes: Uint8Array): Promise<OrtVerdict> {
    await this.ready();
    const child = this.child;
    if (!child) return { ok: false, crashed: true, error: "onnxruntime's process exited while it started" };
    const id = this.next++;
    return new Promise<OrtVerdict>((resolve) => {
      const onMessage = (m: { id: number; ok: boolean; error?: string }) => {
        if (m.id !== id) return;
        done({ ok: m.ok, error: m.error });
      };
      const onExit = (code: number | null, signal: string | null) => {
        done({ ok: false, crashed: true, error: `onnxruntime's process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}` });
      };
      const done = (v: OrtVerdict) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(v);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ id, bytes });
    });
  }

  dispose(): void {
    this.child?.kill();
    this.child = undefined;
  }
}

/** Synthetic activation statistics for every consumer input, so wanda and activation-norm score something. */
function syntheticStats(model: OnnxModel, rand: Rand): void {
  const g = new GraphIndex(model.graph);
  const stats = new Map<string, { sum: Float64Array; sumSq: Float64Array; count: number }>();
  for (const l of findPrunableLayers(g)) {
    const c = g.constant(l.node.input[1]);
    if (!c) continue;
    const dims = tensorDims(c.tensor);
    const n = dims[l.inAxis] * (l.op === 'Conv' ? l.groups : 1);
    if (!Number.isSafeInteger(n) || n <= 0 || n > 1 << 16) continue;
    stats.set(l.node.input[0], { sum: new Float64Array(n), sumSq: Float64Array.from({ length: n }, () => rand() * 4), count: 1 });
  }
  attachActivationStats(model, stats);
}

/**
 * Runs one case through the pipeline. Throws PipelineFailure on anything but a
 * proper PruneLensError, when the output does not re-read, and when
 * onnxruntime rejects an output whose input it accepted.
 */
export async function runPipelineCase(c: PipelineCase, file: string, opts: { ort?: OrtChecker }): Promise<PipelineOutcome> {
  await opts.ort?.ready();
  const t0 = performance.now();
  const rand = seededRandom(c.index + 17);
  let stage: PipelineStage = 'parse';
  const done = (o: Omit<PipelineOutcome, 'ms'>): PipelineOutcome => ({ ...o, ms: performance.now() - t0 });
  let model: OnnxModel;
  let out: Uint8Array;
  try {
    model = parseModel(c.bytes, file);
    stage = 'analysis';
    analyzeModel(model);
    const job = c.job;
    if (job.type === 'structured') {
      stage = 'depgraph';
      const graph = buildDependencyGraph(model);
      stage = 'score';
      if ((DATA_AWARE_METHODS as readonly string[]).includes(job.criterion)) syntheticStats(model, rand);
      const scores = scoreGroups(model, graph, job.criterion, { seed: c.index });
      stage = 'select';
      const selection = selectChannels(graph, scores, { scope: job.scope, ratio: job.ratio, roundTo: job.roundTo, maxRatio: job.maxRatio });
      stage = 'apply';
      applySelection(model, graph, selection);
    } else {
      stage = 'apply';
      const layers = findPrunableLayers(new GraphIndex(model.graph));
      applyMaskStep(model, layers, { method: job.method, granularity: job.granularity, scope: job.scope, amount: { fraction: job.amount }, seed: 1 });
    }
  } catch (e) {
    // The front ends name the file on the way out (withFile); anything but a PruneLensError is a failure.
    const wrapped = e instanceof PruneLensError ? withFile(e, file) : e;
    if (!acceptable(wrapped, file)) throw new PipelineFailure(c, e, `${stage} threw`);
    return done({ stage, code: (wrapped as PruneLensError).code, changed: false });
  }
  // The writer, then our own reader on what it wrote: the output must parse and analyse.
  try {
    out = concatChunks(serializeModel(model));
    analyzeModel(parseModel(out, file));
  } catch (e) {
    throw new PipelineFailure(c, e, 'the pruned model does not read back');
  }
  const changed = !Buffer.from(out).equals(Buffer.from(c.bytes));
  if (!opts.ort) return done({ stage: 'pruned', changed });
  const before = await opts.ort.check(c.bytes);
  if (!before.ok) return done({ stage: 'pruned', changed, ortBefore: false, ortCrashed: before.crashed });
  const after = changed ? await opts.ort.check(out) : before;
  if (!after.ok) {
    throw new PipelineFailure(c, new Error(after.error), after.crashed ? 'onnxruntime loaded the input and crashed on the pruned output'
      : 'onnxruntime accepted the input and rejected the pruned output');
  }
  return done({ stage: 'pruned', changed, ortBefore: true, ortAfter: true });
}

export interface PipelineStats {
  cases: number;
  byStage: Record<string, number>;
  codes: Record<string, number>;
  /** Pruned outputs that differ from their input. */
  changed: number;
  /** Outputs onnxruntime loaded (its input loaded too). */
  ortChecked: number;
  /** Inputs onnxruntime refused (no differential check possible). */
  ortRefusedInput: number;
  /** Of those, inputs that crashed onnxruntime's process. */
  ortCrashedInput: number;
  slowestMs: number;
  peakRssGrowth: number;
  /** Cases per seed model. */
  bySource: Record<string, number>;
  /** Cases that got to a written output, per criterion (structured) or mask method. */
  prunedBy: Record<string, number>;
  /** With onFailure: failures by what went wrong ('hang', 'apply threw', 'onnxruntime rejected ...'). */
  failures: Record<string, number>;
}

export interface PipelineOptions {
  seed: number;
  cases: number;
  first?: number;
  seconds?: number;
  caseBudgetMs?: number;
  rssBudget?: number;
  /** Where the cases are "loaded" from. */
  file: string;
  ort?: boolean;
  /** Called for each failure instead of throwing it, to count them all in a long run. */
  onFailure?: (f: PipelineFailure) => void;
  onProgress?: (s: PipelineStats) => void;
}

/** Runs cases first..first+cases-1; throws the first PipelineFailure. */
export async function fuzzPipeline(opts: PipelineOptions): Promise<PipelineStats> {
  const seeds = loadPipelineSeeds();
  // The synthetic model's external tensor reads w.bin next to the case.
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  fs.writeFileSync(path.join(path.dirname(opts.file), 'w.bin'), EXTERNAL_BYTES);
  const caseBudget = opts.caseBudgetMs ?? 5000;
  const rssBudget = opts.rssBudget ?? 1536 * 2 ** 20;
  const stats: PipelineStats = { cases: 0, byStage: {}, codes: {}, changed: 0, ortChecked: 0, ortRefusedInput: 0, ortCrashedInput: 0, slowestMs: 0, peakRssGrowth: 0, failures: {}, bySource: {}, prunedBy: {} };
  const ort = opts.ort === false ? undefined : new OrtChecker();
  let baseline = process.memoryUsage().rss;
  const deadline = opts.seconds ? Date.now() + opts.seconds * 1000 : Infinity;
  const first = opts.first ?? 0;
  try {
    for (let i = first; i < first + opts.cases && Date.now() < deadline; i++) {
      const c = makePipelineCase(opts.seed, i, seeds);
      let o: PipelineOutcome;
      try {
        o = await runPipelineCase(c, opts.file, { ort });
        if (o.ms > caseBudget) throw new PipelineFailure(c, new Error(`took ${o.ms.toFixed(0)} ms`), 'hang');
        const growth = process.memoryUsage().rss - baseline;
        stats.peakRssGrowth = Math.max(stats.peakRssGrowth, growth);
        if (growth > rssBudget) throw new PipelineFailure(c, new Error(`rss grew by ${growth >> 20} MiB`), 'memory');
      } catch (e) {
        if (!(e instanceof PipelineFailure) || !opts.onFailure) throw e;
        // Resident memory does not shrink after a burst: measure the next cases from here.
        if (e.what === 'memory') baseline = process.memoryUsage().rss;
        stats.cases++;
        stats.failures[e.what] = (stats.failures[e.what] ?? 0) + 1;
        opts.onFailure(e);
        continue;
      }
      stats.cases++;
      stats.bySource[c.source] = (stats.bySource[c.source] ?? 0) + 1;
      if (o.stage === 'pruned') {
        const by = c.job.type === 'structured' ? c.job.criterion : `mask ${c.job.method}`;
        stats.prunedBy[by] = (stats.prunedBy[by] ?? 0) + 1;
      }
      stats.byStage[o.stage] = (stats.byStage[o.stage] ?? 0) + 1;
      if (o.code) stats.codes[o.code] = (stats.codes[o.code] ?? 0) + 1;
      if (o.changed) stats.changed++;
      if (o.ortAfter) stats.ortChecked++;
      if (o.ortBefore === false) stats.ortRefusedInput++;
      if (o.ortCrashed) stats.ortCrashedInput++;
      stats.slowestMs = Math.max(stats.slowestMs, o.ms);
      if (i % 32 === 0) opts.onProgress?.(stats);
    }
  } finally {
    ort?.dispose();
  }
  return stats;
}

export function formatPipelineStats(s: PipelineStats): string {
  const list = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return `pipeline fuzz: ${s.cases} cases; ended at: ${list(s.byStage)}; errors by code: ${list(s.codes)}; ` +
    `${s.changed} outputs changed, ${s.ortChecked} loaded by onnxruntime (input refused by it: ${s.ortRefusedInput}, of which it crashed on ${s.ortCrashedInput}); ` +
    `slowest case ${s.slowestMs.toFixed(0)} ms, rss +${Math.max(0, s.peakRssGrowth) >> 20} MiB` +
    (Object.keys(s.failures).length ? `; FAILURES: ${list(s.failures)}` : '; no failures');
}
