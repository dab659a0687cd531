// Mask pruning that needs calibration data (wanda, sparsegpt), run the way the
// reference code runs it on language models: block by block in graph order.
// Each block's layers are measured on their inputs as the model computes them
// now, that is through the blocks already pruned, then pruned together, and
// only then does the next block run. A block is the numbered module a layer
// sits in (`h.0`, `layers.3`, `model.layers.12`); a layer outside any numbered
// module is a block of its own. Only per-input statistics are kept (Wanda: the
// sum of squares of each input; SparseGPT: XᵀX), so memory does not grow with
// the calibration set.

import type { PrunableLayer } from '../../analysis/layers';
import { PruneLensError } from '../../onnx/errors';
import type { OnnxModel } from '../../onnx/model';
import { spillTensor } from '../../onnx/spill';
import { DataType, dataTypeName, isExternal, setTensorFloats, tensorFloats } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/schema';
import type { CalibratedMaskMethod } from '../methods';
import { jsGram, type GramBackend } from '../recovery/gram';
import { jsProducts, type ProductBackend } from '../recovery/products';
import { NormalEquations } from '../recovery/ridge';
import type { ActivationRun, ActivationSource, HeldValue, SegmentRun } from '../recovery/source';
import { GraphIndex } from '../../onnx/graph';
import type { LayerMaskChange, MaskResult } from './prune';
import { zeroElements } from './prune';
import { sparseGpt, type SparsityTarget } from './sparsegpt';
import { wandaMask } from './wanda';

export interface CalibratedStep {
  method: CalibratedMaskMethod;
  target: SparsityTarget;
}

export interface CalibratedOptions {
  signal?: AbortSignal;
  /** Before each block: its name, and how many blocks come before it of how many. */
  onProgress?: (p: { block: string; done: number; total: number }) => void;
  /** Where XᵀX is computed: by default the source's (onnxruntime), else the JavaScript loop. */
  gram?: GramBackend;
  /** Where SparseGPT's float64 products run: by default the source's (onnxruntime), else JavaScript loops. */
  products?: ProductBackend;
}

interface Target {
  layer: PrunableLayer;
  tensor: TensorProto;
  /** The activation the layer reads (its input 0). */
  input: string;
  inputs: number;
  outputs: number;
}

/** Statistics of one activation over the calibration data: per-input sums of squares, or XᵀX. */
interface InputStats {
  width: number;
  sumSq?: Float64Array;
  gram?: NormalEquations;
  /** Rows waiting for the next Gram product (`filled` of them): one product per GRAM_ROWS rows, not per batch. */
  pending?: Float32Array;
  filled?: number;
}

/**
 * Rows gathered before each XᵀX product. Each product's d×d result is added
 * to the float64 sum in JavaScript, which at d = 5632 costs as much as the
 * product of a 128-row batch itself; 2048 rows make it a small part.
 */
const GRAM_ROWS = 2048;

const DENSE = new Set(['MatMul', 'Gemm']);
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/** Prunes `layers` of `model` in place, block by block, measuring each block through the pruned ones before it. */
export async function pruneCalibrated(model: OnnxModel, layers: readonly PrunableLayer[], step: CalibratedStep,
  source: ActivationSource, opts: CalibratedOptions = {}): Promise<MaskResult> {
  const warnings: string[] = [];
  const targets = usableTargets(layers, step, warnings);
  const blocks = groupBlocks(targets);
  const changes: LayerMaskChange[] = [];
  const gram = opts.gram ?? source.gram ?? jsGram;
  const products = opts.products ?? source.products ?? jsProducts;
  const list = [...blocks];
  // What a run of block k starts from: nothing before the first block (the calibration inputs), then the values held.
  const frontiers = blockFrontiers(model, list.map(([, members]) => members)).map((f, k) => (k === 0 ? [] : f));
  // Per calibration batch, the values held at the start of the current block (segments), or undefined (whole prefixes).
  let held: Map<string, HeldValue>[] | undefined = source.openSegment ? Array.from({ length: source.batches }, () => new Map()) : undefined;
  for (const [k, [block, members]] of list.entries()) {
    if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'pruning was cancelled', { layer: block });
    opts.onProgress?.({ block, done: k, total: blocks.size });
    const inputs = [...new Set(members.map((t) => t.input))];
    let runs = held && await openSegment(source, model, frontiers[k], inputs, []);
    if (!runs) held = undefined;
    const stats = await measure(members, step.method, source.batches, gram, opts.signal,
      runs ? { run: async (b) => (await runs!.run(b, held![b])).activations, release: () => runs!.release() } : await source.open(model, inputs));
    for (const t of members) {
      // A large layer takes a while: let a cancel in before each one, and within sparsegpt's sweep.
      const pause = async () => {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'pruning was cancelled', { layer: t.layer.displayName });
      };
      await pause();
      changes.push(await pruneLayer(model, t, step, stats.get(t.input)!, pause, products));
    }
    // The next block's inputs, through this block as it is now pruned.
    if (held && k + 1 < list.length) {
      const carried = frontiers[k + 1].filter((v) => frontiers[k].includes(v));
      const fresh = frontiers[k + 1].filter((v) => !frontiers[k].includes(v));
      runs = await openSegment(source, model, frontiers[k], [], fresh);
      if (!runs) held = undefined;
      else {
        try {
          const next: Map<string, HeldValue>[] = [];
          for (let b = 0; b < source.batches; b++) {
            if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'pruning was cancelled', { layer: block });
            const out = await runs.run(b, held[b]);
            next.push(new Map([...carried.map((v) => [v, held![b].get(v)!] as const), ...out.held]));
          }
          held = next;
        } finally {
          await runs.release();
        }
      }
    }
  }
  opts.onProgress?.({ block: '', done: blocks.size, total: blocks.size });
  return { layers: changes, warnings };
}

function usableTargets(layers: readonly PrunableLayer[], step: CalibratedStep, warnings: string[]): Target[] {
  const out: Target[] = [];
  const seen = new Map<TensorProto, PrunableLayer>();
  for (const layer of layers) {
    const tensor = layer.weight.tensor;
    if (!DENSE.has(layer.op) || layer.dims.length !== 2) {
      warnings.push(`layer ${layer.displayName} skipped: ${step.method} prunes dense layers (MatMul, Gemm), not ${layer.op}`);
      continue;
    }
    if (!FLOAT_TYPES.has(tensor.data_type ?? 0)) {
      throw new PruneLensError('unsupported', `${dataTypeName(tensor.data_type)} weights cannot be mask-pruned; only float tensors can`,
        { layer: layer.displayName, tensor: tensor.name });
    }
    const first = seen.get(tensor);
    if (first) {
      warnings.push(`layer ${layer.displayName} shares its weight ${layer.weightName} with ${first.displayName}; it is pruned once, with ${first.displayName}'s inputs`);
      continue;
    }
    seen.set(tensor, layer);
    const inputs = layer.dims[layer.inAxis];
    if ('m' in step.target && inputs % step.target.m !== 0) {
      warnings.push(`layer ${layer.displayName} skipped: its ${inputs} inputs are not a multiple of M=${step.target.m}`);
      continue;
    }
    out.push({ layer, tensor, input: layer.node.input[0], inputs, outputs: layer.dims[layer.outAxis] });
  }
  return out;
}

/**
 * The numbered module a layer belongs to: the module path up to its first
 * numeric part. From names alone (no shape inference, no attention block
 * needed), so it also groups MLP-only stacks; for a transformer it is the
 * block analysis/blocks.ts finds (`layers.0`, the attention block's parent).
 */
export function blockOf(displayName: string): string {
  const parts = displayName.split('.');
  const at = parts.findIndex((p) => /^\d+$/.test(p));
  return at > 0 ? parts.slice(0, at + 1).join('.') : displayName;
}

/** Blocks in the order their first layer comes in the graph. */
function groupBlocks(targets: Target[]): Map<string, Target[]> {
  const blocks = new Map<string, Target[]>();
  for (const t of targets) {
    const key = blockOf(t.layer.displayName);
    blocks.set(key, [...(blocks.get(key) ?? []), t]);
  }
  return blocks;
}

/** A segment of the model, or undefined where the runtime cannot cut one (the caller runs whole prefixes then). */
async function openSegment(source: ActivationSource, model: OnnxModel, from: string[], values: string[], hold: string[]): Promise<SegmentRun | undefined> {
  try {
    return await source.openSegment!(model, from, values, hold);
  } catch (e) {
    // A value shape inference cannot type, or a cut onnxruntime will not load: the whole prefix still runs.
    if (e instanceof PruneLensError && (e.code === 'unsupported' || e.code === 'validation')) return undefined;
    throw e;
  }
}

/**
 * For each block, the values computed before it (in graph order, up to its
 * first layer) that it or anything after it reads: what a run from that point
 * must be given. Graph inputs are not among them (the calibration data has them).
 */
function blockFrontiers(model: OnnxModel, blocks: Target[][]): string[][] {
  const index = new GraphIndex(model.graph);
  const order = index.topoOrder();
  const at = new Map(order.map((n, i) => [n, i]));
  return blocks.map((members) => {
    const cut = Math.min(...members.map((t) => at.get(t.layer.node) ?? Infinity));
    const out: string[] = [];
    for (let i = 0; i < cut && i < order.length; i++) {
      for (const v of order[i].output) {
        if (v && index.consumers(v).some((c) => (at.get(c) ?? -1) >= cut)) out.push(v);
      }
    }
    return out;
  });
}

/** One pass of the calibration data through the model as it is now, folding each distinct input of the block. */
async function measure(members: Target[], method: CalibratedMaskMethod, batches: number,
  gram: GramBackend, signal: AbortSignal | undefined, run: ActivationRun): Promise<Map<string, InputStats>> {
  const stats = new Map<string, InputStats>();
  for (const t of members) {
    if (stats.has(t.input)) continue;
    stats.set(t.input, method === 'wanda'
      ? { width: t.inputs, sumSq: new Float64Array(t.inputs) }
      : { width: t.inputs, gram: new NormalEquations(t.inputs, 1), pending: new Float32Array(GRAM_ROWS * t.inputs), filled: 0 });
  }
  try {
    for (let b = 0; b < batches; b++) {
      if (signal?.aborted) throw new PruneLensError('cancelled', 'pruning was cancelled');
      for (const [name, a] of await run.run(b)) {
        const s = stats.get(name)!;
        const width = a.dims[a.dims.length - 1];
        if (width !== s.width) {
          throw new PruneLensError('shape', `the layer reading ${name} has ${s.width} inputs, but the value has ${width} along its last axis`, { tensor: name });
        }
        const rows = a.data.length / width;
        if (s.sumSq) {
          const { data } = a;
          for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) s.sumSq[i] += data[r * width + i] * data[r * width + i];
        } else {
          for (let r = 0; r < rows;) {
            const take = Math.min(rows - r, GRAM_ROWS - s.filled!);
            s.pending!.set(a.data.subarray(r * width, (r + take) * width), s.filled! * width);
            s.filled! += take;
            r += take;
            if (s.filled === GRAM_ROWS) await flushGram(s, gram);
          }
        }
      }
    }
    for (const s of stats.values()) {
      if (!s.gram) continue;
      await flushGram(s, gram);
      s.pending = undefined; // 46 MB at d = 5632, not needed while the block's layers are pruned
    }
  } finally {
    await run.release();
  }
  return stats;
}

async function flushGram(s: InputStats, gram: GramBackend): Promise<void> {
  const rows = s.filled!;
  if (rows) await gram.accumulate(s.gram!, s.pending!.subarray(0, rows * s.width), new Float32Array(rows), rows);
  s.filled = 0;
}

async function pruneLayer(model: OnnxModel, t: Target, step: CalibratedStep, stats: InputStats,
  pause: () => Promise<void>, products: ProductBackend): Promise<LayerMaskChange> {
  const { layer, tensor } = t;
  const external = isExternal(tensor);
  const values = tensorFloats(tensor, model.external);
  const zerosBefore = countZeros(values);
  const layout = { dims: layer.dims, outAxis: layer.outAxis, inAxis: layer.inAxis };
  if (step.method === 'wanda') {
    zeroElements(model, tensor, wandaMask(values, layout, stats.sumSq!, step.target));
  } else {
    // SparseGPT works on [in, out]; a Gemm with transB holds [out, in].
    const w = toInOut(values, t);
    await sparseGpt(w, t.inputs, t.outputs, hessian(stats.gram!), step.target, { pause, products });
    setTensorFloats(tensor, layer.dims, fromInOut(w, t));
  }
  const after = tensorFloats(tensor, model.external);
  // A weight read from external data goes back out of memory once pruned (to a temporary file, spill.ts),
  // so that memory does not grow with the blocks done; later blocks' runs and the writer read it from there.
  if (external) spillTensor(model.proto, tensor);
  return { layer: layer.name, weightElements: values.length, zerosBefore, zerosAfter: countZeros(after) };
}

/**
 * 2XᵀX would scale every step of SparseGPT alike; XᵀX, mirrored from its lower
 * triangle, is enough. Mirrored in place (layers reading the same input share
 * it, and mirroring twice changes nothing): at d = 5632 a copy is 254 MB.
 */
function hessian(eq: NormalEquations): Float64Array {
  const { d, gram } = eq;
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) gram[j * d + i] = gram[i * d + j];
  return gram;
}

function toInOut(values: Float32Array, t: Target): Float64Array {
  if (t.layer.inAxis === 0) return Float64Array.from(values);
  const w = new Float64Array(values.length);
  for (let o = 0; o < t.outputs; o++) for (let i = 0; i < t.inputs; i++) w[i * t.outputs + o] = values[o * t.inputs + i];
  return w;
}

function fromInOut(w: Float64Array, t: Target): Float32Array {
  if (t.layer.inAxis === 0) return Float32Array.from(w);
  const values = new Float32Array(w.length);
  for (let o = 0; o < t.outputs; o++) for (let i = 0; i < t.inputs; i++) values[o * t.inputs + i] = w[i * t.outputs + o];
  return values;
}

function countZeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}
