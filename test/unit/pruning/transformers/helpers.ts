// Shared pieces of the transformer pruning tests: the three shared
// transformers, inputs at several batch sizes and sequence lengths, zero-
// then-remove on a chosen set of groups, the Linear MACs per token, and
// perplexity (exp of the mean next-byte cross-entropy, as the models' README
// defines it).

import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModelSync, type OnnxModel } from '../../../../src/onnx/model';
import { elementCount, setTensorFloats, tensorDims, tensorFloats } from '../../../../src/onnx/tensor';
import type { DepGraph } from '../../../../src/pruning/depgraph';
import { applySelection } from '../../../../src/pruning/structured';
import { modelPath, readNpyFloat32, readNpyInt64, seededRandom } from '../../../helpers/models';
import { runModel, type Feeds } from '../../../helpers/ort';
import { bytesOf } from '../structured/helpers';
import { zeroChannels } from '../structured/zero';

export interface Transformer {
  file: string;
  /** Input sizes to check: [batch, sequence] for the LMs, [batch] for the ViT. */
  sizes: number[][];
  feed(size: number[], seed?: number): Feeds;
}

const tokens = (b: number, t: number, seed: number): Feeds => {
  const rand = seededRandom(seed);
  const data = BigInt64Array.from({ length: b * t }, () => BigInt(Math.floor(rand() * 256)));
  return { input_ids: { dims: [b, t], data } };
};

export const LM_GPT: Transformer = { file: 'lm_gpt_licenses.onnx', sizes: [[1, 7], [1, 32], [3, 7], [3, 32]], feed: ([b, t], s = 1) => tokens(b, t, s) };
export const LM_LLAMA: Transformer = { file: 'lm_llama_licenses.onnx', sizes: LM_GPT.sizes, feed: LM_GPT.feed };
export const VIT: Transformer = {
  file: 'digits_vit.onnx',
  sizes: [[1], [5]],
  feed: ([b], s = 1) => {
    const rand = seededRandom(s);
    return { input: { dims: [b, 1, 8, 8], data: Float32Array.from({ length: b * 64 }, () => rand()) } };
  },
};

export const load = (t: Transformer): OnnxModel => loadModelSync(modelPath(t.file));

/** Σ weight elements of every Linear (MatMul or Gemm with a constant weight): the MACs per token of the projections. */
export function linearMacsPerToken(m: OnnxModel): number {
  const index = new GraphIndex(m.graph);
  let macs = 0;
  for (const n of index.nodes) {
    if (n.op_type !== 'MatMul' && n.op_type !== 'Gemm') continue;
    const w = index.constant(n.input[1]);
    if (w) macs += elementCount(tensorDims(w.tensor));
  }
  return macs;
}

export function maxAbs(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let m = 0;
  for (const k of Object.keys(a)) {
    if (a[k].length !== b[k].length) throw new Error(`${k}: ${a[k].length} vs ${b[k].length} values`);
    for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]));
  }
  return m;
}

export interface ZeroRemove {
  zeroed: Uint8Array;
  pruned: Uint8Array;
  /** Largest output difference between zeroed and pruned, over every size. */
  diff: number;
}

/** Zeroes `remove` in one copy, removes it in another, and runs both at every size of `t`. */
export async function zeroThenRemove(t: Transformer, build: (m: OnnxModel) => DepGraph, remove: (g: DepGraph) => Map<number, number[]>): Promise<ZeroRemove & { graph: DepGraph }> {
  const m = load(t);
  const graph = build(m);
  const sel = remove(graph);
  zeroChannels(m, graph, sel);
  zeroConsumers(m, graph, sel);
  const zeroed = bytesOf(m);
  applySelection(m, graph, sel);
  const pruned = bytesOf(m);
  let diff = 0;
  for (const size of t.sizes) {
    const feeds = t.feed(size);
    diff = Math.max(diff, maxAbs(await runModel(zeroed, feeds), await runModel(pruned, feeds)));
  }
  return { zeroed, pruned, diff, graph };
}

/** exp(mean cross-entropy) of next-byte predictions over the first `rows` held-out windows, and next-byte accuracy. */
export async function perplexity(bytes: Uint8Array, rows = 64): Promise<{ ppl: number; acc: number }> {
  const x = readNpyInt64(modelPath('lm_licenses_val_x.npy'), rows);
  const y = readNpyInt64(modelPath('lm_licenses_val_y.npy'), rows);
  const logits = (await runModel(bytes, { input_ids: { dims: x.shape, data: x.data } })).logits;
  const v = 256;
  let nll = 0;
  let ok = 0;
  for (let i = 0; i < y.data.length; i++) {
    const row = logits.subarray(i * v, (i + 1) * v);
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < v; k++) if (row[k] > max) { max = row[k]; arg = k; }
    let sum = 0;
    for (let k = 0; k < v; k++) sum += Math.exp(row[k] - max);
    const target = Number(y.data[i]);
    nll += Math.log(sum) + max - row[target];
    if (arg === target) ok++;
  }
  return { ppl: Math.exp(nll / y.data.length), acc: ok / y.data.length };
}

/** Held-out digits accuracy of the ViT. */
export async function vitAccuracy(bytes: Uint8Array): Promise<number> {
  const x = readNpyFloat32(modelPath('digits_val_x.npy'));
  const y = readNpyInt64(modelPath('digits_val_y.npy'));
  const logits = (await runModel(bytes, { input: { dims: x.shape, data: x.data } })).logits;
  let ok = 0;
  for (let i = 0; i < y.data.length; i++) {
    const row = logits.subarray(i * 10, (i + 1) * 10);
    let arg = 0;
    for (let k = 1; k < 10; k++) if (row[k] > row[arg]) arg = k;
    if (arg === Number(y.data[i])) ok++;
  }
  return ok / y.data.length;
}

/**
 * Zeroes the consuming layers' input slices of the selected units too (o_proj's
 * columns of a removed head): with GQA's kv heads kept, a query head whose q
 * is zero still adds softmax-uniform·v, and only o_proj's zero columns make
 * it contribute nothing.
 */
function zeroConsumers(m: OnnxModel, graph: DepGraph, remove: Map<number, number[]>): void {
  const removed = new Set<number>();
  for (const [gid, list] of remove) for (const i of list) removed.add(graph.groups[gid].units[i]);
  for (const mem of graph.members) {
    if (mem.role !== 'in') continue;
    const positions = [...mem.labels.keys()].filter((p) => removed.has(graph.units.find(mem.labels[p])));
    if (!positions.length) continue;
    const t = graph.index.constant(mem.node.input[mem.input])!.tensor;
    const dims = tensorDims(t);
    const values = Float32Array.from(tensorFloats(t, m.external));
    let inner = 1;
    for (let a = mem.axis + 1; a < dims.length; a++) inner *= dims[a];
    const outer = values.length / (dims[mem.axis] * inner);
    for (let o = 0; o < outer; o++) for (const p of positions) values.fill(0, (o * dims[mem.axis] + p) * inner, (o * dims[mem.axis] + p + 1) * inner);
    setTensorFloats(t, dims, values);
  }
}
