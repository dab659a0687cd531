// The fuzzer shared by test/unit/onnx/fuzz.test.ts and scripts/fuzz.ts.
//
// Cases are random byte strings and mutations of real and synthetic models:
// bit flips, byte overwrites, truncations, chunk duplications and deletions,
// corrupted length varints, splices, and edits of the decoded tree (absurd
// ints, renamed values, reordered nodes) re-encoded as valid protobuf so they
// reach the analysis. Each case is parsed, analysed and re-encoded; the only
// acceptable failure is a PruneLensError that is not 'internal' (which is
// how the core wraps an unexpected exception) and that names the file.
// Case i of seed s is generated from its own PRNG, so any case replays alone.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../src/analysis';
import {
  floatTensor, int64Tensor, newGraph, newModel, newNode, newTensor, newValueInfo,
} from '../../src/onnx/build';
import { decodeMessage, encodeMessage } from '../../src/onnx/codec';
import { PruneLensError } from '../../src/onnx/errors';
import { parseModel, serializeModel } from '../../src/onnx/model';
import type { AttributeProto, ModelProto } from '../../src/onnx/schema';
import { DataType } from '../../src/onnx/tensor';
import { concatChunks } from '../../src/onnx/wire';
import { modelPath, seededRandom, stripRaw, treeDiff } from './models';
import { varint } from './protobuf';

export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Positions of length varints found by walking the message structure. */
  lengths: { at: number; size: number; value: number }[];
}

export interface FuzzCase {
  /** The run's seed and the case's index in it: together they regenerate the case. */
  seed: number;
  index: number;
  /** The mutation applied, or the style of random bytes. */
  kind: string;
  /** The model mutated ('-' for random bytes). */
  source: string;
  bytes: Uint8Array;
}

export interface CaseOutcome {
  /** 'parsed' when parseModel accepted it (analysis may still reject it). */
  stage: 'rejected' | 'parsed';
  /** Error code of the rejection, at parse or at analysis. */
  code?: string;
  analyzed: boolean;
  ms: number;
}

export class FuzzFailure extends Error {
  constructor(readonly fuzzCase: FuzzCase, cause: unknown, what: string) {
    super(`${what} on seed ${fuzzCase.seed} case ${fuzzCase.index} (${fuzzCase.kind} of ${fuzzCase.source}, ${fuzzCase.bytes.length} bytes; ` +
      `replay: npx tsx scripts/fuzz.ts --seed ${fuzzCase.seed} --first ${fuzzCase.index} --cases 1): ${
      cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
  }
}

// ---- seeds -------------------------------------------------------------------

const REAL_SEEDS = ['digits_lenet.onnx', 'digits_resnet_slim_s1e-2.onnx', 'digits_mlp.onnx', 'digits_vgg_slim_s1e-2.onnx'];

/** Real models plus a synthetic one that touches every op and feature analysis reads. */
export function loadSeeds(): Seed[] {
  const seeds: Omit<Seed, 'lengths'>[] = REAL_SEEDS.map((name) => ({ name, bytes: new Uint8Array(fs.readFileSync(modelPath(name))) }));
  seeds.push({ name: 'synthetic', bytes: syntheticModelBytes() });
  return seeds.map((s) => ({ ...s, lengths: findLengths(s.bytes) }));
}

/** Bytes of the external tensor of the synthetic model; the fuzz folder holds them as w.bin. */
export const EXTERNAL_BYTES = new Uint8Array(new Float32Array([0.5, -1, 2, 0, 1.5, -0.25, 3, 1]).buffer);

/** The synthetic model's bytes (its external tensor reads w.bin next to the model; see EXTERNAL_BYTES). */
export function syntheticModelBytes(): Uint8Array {
  return concatChunks(encodeMessage('ModelProto', syntheticModel()));
}

function syntheticModel(): ModelProto {
  const F = DataType.FLOAT;
  const rand = seededRandom(1);
  const vals = (n: number) => Array.from({ length: n }, () => rand() * 2 - 1);
  const half = newTensor('half', DataType.FLOAT16, [4, 1], new Uint8Array(0));
  delete half.raw_data;
  half.int32_data = [0x3c00, 0xc000, 0x0001, 0x7bff];
  const ext = newTensor('ext_w', F, [4, 2, 1, 1], new Uint8Array(0));
  delete ext.raw_data;
  ext.data_location = 1;
  ext.external_data = [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: '32' }];
  const thenG = newGraph('then', [newNode('Relu', ['x'], ['t_out'])], [], [newValueInfo('t_out', F, [2, 4, 8, 8])]);
  const ifNode = newNode('If', ['flag'], ['branch'], 'if');
  const g: AttributeProto = { name: 'then_branch', type: 5, g: thenG, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] };
  ifNode.attribute.push(g, { ...g, name: 'else_branch' });
  const nodes = [
    newNode('Constant', [], ['cw'], 'cw', { value: floatTensor('cw', [8, 4, 3, 3], vals(288)) }),
    newNode('Conv', ['x', 'cw', 'cb'], ['c1'], 'conv1', { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
    newNode('Identity', ['c1'], ['c1i'], 'id1'),
    newNode('Identity', ['gamma'], ['gamma2'], 'id_gamma'),
    newNode('BatchNormalization', ['c1i', 'gamma2', 'beta', 'beta', 'gamma'], ['b1'], 'bn1'),
    newNode('Conv', ['b1', 'dw'], ['c2'], 'depthwise', { group: 8, strides: [2, 2], auto_pad: 'SAME_UPPER' }),
    newNode('MaxPool', ['c2'], ['p1'], 'pool', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
    newNode('ConvTranspose', ['p1', 'ct'], ['u1'], 'deconv', { strides: [2, 2], output_padding: [1, 1], pads: [0, 0, 0, 0] }),
    newNode('Resize', ['u1', '', 'scales'], ['r1'], 'resize'),
    newNode('Split', ['r1', 'split'], ['s1', 's2'], 'split', { axis: 1 }),
    newNode('Concat', ['s1', 's2'], ['cat'], 'concat', { axis: 1 }),
    newNode('Slice', ['cat', 'starts', 'ends', 'axes'], ['sl'], 'slice'),
    newNode('Conv', ['sl', 'ext_w'], ['c3'], 'conv_ext'),
    newNode('GlobalAveragePool', ['c3'], ['gap'], 'gap'),
    newNode('Shape', ['gap'], ['shp'], 'shape'),
    newNode('Gather', ['shp', 'zero'], ['n'], 'gather', { axis: 0 }),
    newNode('Unsqueeze', ['n', 'zero1'], ['n1'], 'unsq'),
    newNode('Concat', ['n1', 'minus1'], ['target'], 'cat_shape', { axis: 0 }),
    newNode('Reshape', ['gap', 'target'], ['flat'], 'reshape'),
    newNode('Gemm', ['flat', 'fc', 'fcb'], ['fc_out'], 'fc', { transB: 0 }),
    newNode('MatMul', ['fc_out', 'mm'], ['mm_out'], 'matmul'),
    newNode('Transpose', ['mm_out'], ['tr'], 'transpose', { perm: [1, 0] }),
    newNode('Squeeze', ['gap', 'hw_axes'], ['sq'], 'squeeze'),
    newNode('Add', ['tr', 'half_f'], ['out'], 'add'),
    newNode('Cast', ['half'], ['half_f'], 'cast', { to: F }),
    newNode('Flatten', ['x'], ['xf'], 'flatten', { axis: 1 }),
    ifNode,
  ];
  const inits = [
    floatTensor('cb', [8], vals(8)), floatTensor('gamma', [8], vals(8)), floatTensor('beta', [8], vals(8)),
    floatTensor('dw', [8, 1, 3, 3], vals(72)), floatTensor('ct', [8, 2, 3, 3], vals(144)),
    floatTensor('scales', [4], [1, 1, 2, 2]), int64Tensor('split', [2], [1, 1]),
    int64Tensor('starts', [1], [-2]), int64Tensor('ends', [1], [1000]), int64Tensor('axes', [1], [1]),
    ext, int64Tensor('zero', [], [0]), int64Tensor('zero1', [1], [0]), int64Tensor('minus1', [1], [-1]),
    floatTensor('fc', [4, 3], vals(12)), floatTensor('fcb', [3], vals(3)), floatTensor('mm', [3, 4], vals(12)),
    int64Tensor('hw_axes', [2], [2, 3]), half,
  ];
  const graph = newGraph('synthetic', nodes, [newValueInfo('x', F, [2, 4, 8, 8]), newValueInfo('flag', DataType.BOOL, [])],
    [newValueInfo('out', F, [4, 2]), newValueInfo('sq', F, [2, 4]), newValueInfo('xf', F, [2, 256]), newValueInfo('branch', F, [2, 4, 8, 8])], inits);
  const model = newModel(graph, 13, 8);
  model.metadata_props.push({ key: 'k', value: 'v' });
  model.functions.push({
    name: 'F', domain: 'f', input: ['a'], output: ['b'], attribute: [], attribute_proto: [],
    node: [newNode('Relu', ['a'], ['b'])], opset_import: [{ domain: '', version: 13 }], value_info: [], metadata_props: [],
  });
  return model;
}

/** Walks bytes as nested messages (any length-delimited payload that parses as one) and lists length varints. */
function findLengths(bytes: Uint8Array): Seed['lengths'] {
  const out: Seed['lengths'] = [];
  const walk = (start: number, end: number, depth: number): boolean => {
    let p = start;
    const found: Seed['lengths'] = [];
    const readVarint = (): number | undefined => {
      let v = 0;
      let mul = 1;
      for (let i = 0; i < 10; i++) {
        if (p >= end) return undefined;
        const b = bytes[p++];
        v += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) return v;
      }
      return undefined;
    };
    const nested: [number, number][] = [];
    while (p < end) {
      const t = readVarint();
      if (t === undefined || t < 8) return false;
      const wt = t & 7;
      if (wt === 0) { if (readVarint() === undefined) return false; }
      else if (wt === 1) p += 8;
      else if (wt === 5) p += 4;
      else if (wt === 2) {
        const at = p;
        const len = readVarint();
        if (len === undefined || p + len > end) return false;
        found.push({ at, size: p - at, value: len });
        nested.push([p, p + len]);
        p += len;
      } else return false;
      if (p > end) return false;
    }
    out.push(...found);
    if (depth < 12) for (const [s, e] of nested) if (e - s > 1) walk(s, e, depth + 1);
    return true;
  };
  walk(0, bytes.length, 0);
  return out;
}

// ---- case generation -----------------------------------------------------------

export type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, list: readonly T[]): T => list[int(rand, list.length)];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x3a];
const INTERESTING_INTS: (number | bigint)[] = [0, 1, -1, 2, 3, 7, 255, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 1e12, 2 ** 53,
  -(2 ** 53), 9223372036854775807n, -9223372036854775808n];

function varintBytes(v: number | bigint): number[] {
  return Array.from(varint(v));
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

const MUTATORS: Record<string, (rand: Rand, s: Seed, seeds: Seed[]) => Uint8Array> = {
  bitflip(rand, s) {
    const b = s.bytes.slice();
    for (let n = 1 + int(rand, 8); n > 0; n--) {
      const i = int(rand, b.length);
      b[i] ^= 1 << int(rand, 8);
    }
    return b;
  },
  overwrite(rand, s) {
    const b = s.bytes.slice();
    for (let n = 1 + int(rand, 16); n > 0; n--) b[int(rand, b.length)] = rand() < 0.5 ? pick(rand, INTERESTING_BYTES) : int(rand, 256);
    return b;
  },
  truncate(rand, s) {
    // Mostly near the start, where the structure is dense.
    const cut = rand() < 0.5 ? int(rand, Math.min(s.bytes.length, 2048)) : int(rand, s.bytes.length);
    return s.bytes.slice(0, cut);
  },
  duplicate(rand, s) {
    const a = int(rand, s.bytes.length);
    const len = 1 + int(rand, Math.min(512, s.bytes.length - a));
    return splice(s.bytes, int(rand, s.bytes.length), 0, s.bytes.subarray(a, a + len));
  },
  delete(rand, s) {
    const a = int(rand, s.bytes.length);
    return splice(s.bytes, a, 1 + int(rand, Math.min(512, s.bytes.length - a)), []);
  },
  length(rand, s) {
    const f = pick(rand, s.lengths);
    const choices = [0, f.value - 1, f.value + 1, f.value * 2, 2 ** 31, 2 ** 40, 2 ** 62, 9223372036854775807n, int(rand, 1 << 20)];
    return splice(s.bytes, f.at, f.size, varintBytes(pick(rand, choices)));
  },
  splice(rand, s, seeds) {
    const other = pick(rand, seeds);
    const a = int(rand, s.bytes.length);
    const b = int(rand, other.bytes.length);
    return Uint8Array.from(Buffer.concat([s.bytes.subarray(0, a), other.bytes.subarray(b)]));
  },
  tree(rand, s) {
    const proto = decodeMessage<ModelProto>('ModelProto', s.bytes);
    for (let n = 1 + int(rand, 3); n > 0; n--) mutateTree(rand, proto);
    try {
      return concatChunks(encodeMessage('ModelProto', proto));
    } catch {
      // The edit put a value of the wrong JS type in a field (a bigint in a float):
      // a bug of this generator, not input a file can hold. Use the seed as it is.
      return s.bytes;
    }
  },
};

export const MUTATION_KINDS = Object.keys(MUTATORS);

/** Every object (message) in a decoded tree, with its parent key. */
function messages(root: object): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const visit = (v: unknown) => {
    if (!v || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    if (Array.isArray(v)) { v.forEach(visit); return; }
    out.push(v as Record<string, unknown>);
    for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) visit(x);
  };
  visit(root);
  return out;
}

export function mutateTree(rand: Rand, proto: ModelProto): void {
  const all = messages(proto);
  const names = [...new Set(proto.graph?.node.flatMap((n) => [...n.input, ...n.output]) ?? [])];
  const m = pick(rand, all);
  const keys = Object.keys(m).filter((k) => !k.startsWith('$'));
  if (!keys.length) return;
  const k = pick(rand, keys);
  const v = m[k];
  const nodes = proto.graph?.node ?? [];
  switch (int(rand, 6)) {
    case 0: // structural edits of the node list
      if (nodes.length > 1) {
        const i = int(rand, nodes.length);
        const j = int(rand, nodes.length);
        if (rand() < 0.5) [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
        else if (rand() < 0.5) nodes.splice(i, 1);
        else nodes.push(nodes[i]);
      }
      return;
    case 1: // rename a value: dangling references, cycles, shared outputs
      if (Array.isArray(v) && typeof v[0] === 'string' && names.length) v[int(rand, v.length)] = pick(rand, names);
      else if (typeof v === 'string' && names.length) m[k] = pick(rand, names);
      return;
    case 2: // op type swaps reach shape rules with unexpected inputs
      if (k === 'op_type') m[k] = pick(rand, ['Conv', 'Gemm', 'MatMul', 'ConvTranspose', 'Reshape', 'Slice', 'Split', 'Concat',
        'Resize', 'Upsample', 'Squeeze', 'Unsqueeze', 'Transpose', 'Flatten', 'Gather', 'Shape', 'Pad', 'Expand', 'MaxPool',
        'BatchNormalization', 'Identity', 'Constant', 'ReduceMean', 'Cast', 'ConstantOfShape', 'Add', 'Where']);
      return;
  }
  // Absurd numbers where numbers live.
  if (typeof v === 'number' || typeof v === 'bigint') m[k] = pick(rand, INTERESTING_INTS);
  else if (Array.isArray(v) && v.length && (typeof v[0] === 'number' || typeof v[0] === 'bigint')) {
    v[int(rand, v.length)] = pick(rand, INTERESTING_INTS);
  } else if (Array.isArray(v) && v.length) {
    if (rand() < 0.5) v.splice(int(rand, v.length), 1);
    else v.push(v[int(rand, v.length)]);
  } else if (v instanceof Uint8Array) {
    m[k] = v.subarray(0, int(rand, v.length + 1));
  } else if (v && typeof v === 'object' && !Array.isArray(v)) {
    delete m[k];
  }
}

function randomBytes(rand: Rand): { kind: string; bytes: Uint8Array } {
  const n = int(rand, 300);
  const style = int(rand, 3);
  if (style === 0) return { kind: 'random', bytes: Uint8Array.from({ length: n }, () => int(rand, 256)) };
  if (style === 1) {
    // A valid model header, then garbage inside the graph.
    const body = Uint8Array.from({ length: n }, () => int(rand, 256));
    return { kind: 'random-graph', bytes: Uint8Array.from([0x08, 0x07, 0x3a, ...varintBytes(n), ...body]) };
  }
  // Protobuf-shaped noise: plausible tags, varints and short lengths.
  const out: number[] = [];
  while (out.length < n) {
    const wt = pick(rand, [0, 0, 2, 2, 1, 5, 3, 7]);
    out.push(...varintBytes((1 + int(rand, 30)) * 8 + wt));
    if (wt === 0) out.push(...varintBytes(pick(rand, INTERESTING_INTS)));
    else if (wt === 2) {
      const len = int(rand, 12);
      out.push(...varintBytes(len), ...Array.from({ length: len }, () => int(rand, 256)));
    } else if (wt === 1) out.push(...Array.from({ length: 8 }, () => int(rand, 256)));
    else if (wt === 5) out.push(...Array.from({ length: 4 }, () => int(rand, 256)));
  }
  return { kind: 'random-protobuf', bytes: Uint8Array.from(out) };
}

/** Case `index` of run `seed`: deterministic, independent of the other cases. */
export function makeCase(seed: number, index: number, seeds: Seed[], kinds?: string[]): FuzzCase {
  const rand = seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  if (rand() < 0.15 && !kinds) return { seed, index, source: '-', ...randomBytes(rand) };
  // The small seeds are cheap to analyse; the larger ones come up less often.
  const s = rand() < 0.8 ? pick(rand, [seeds[0], seeds[1], seeds[4], seeds[4]]) : pick(rand, seeds);
  const kind = pick(rand, kinds ?? Object.keys(MUTATORS));
  return { seed, index, source: s.name, kind, bytes: MUTATORS[kind](rand, s, seeds) };
}

// ---- running a case ----------------------------------------------------------------

function isAcceptable(e: unknown, file: string): boolean {
  return e instanceof PruneLensError && e.code !== 'internal' && e.message.startsWith(file + ': ');
}

/**
 * Parses, analyses and re-encodes one case. Throws FuzzFailure on anything but
 * a proper PruneLensError, and when a parsed model does not round-trip.
 */
export function runCase(c: FuzzCase, file: string): CaseOutcome {
  const t0 = performance.now();
  const done = (o: Omit<CaseOutcome, 'ms'>): CaseOutcome => ({ ...o, ms: performance.now() - t0 });
  let model;
  try {
    model = parseModel(c.bytes, file);
  } catch (e) {
    if (!isAcceptable(e, file)) throw new FuzzFailure(c, e, 'parseModel threw');
    return done({ stage: 'rejected', code: (e as PruneLensError).code, analyzed: false });
  }
  let code: string | undefined;
  try {
    analyzeModel(model);
  } catch (e) {
    if (!isAcceptable(e, file)) throw new FuzzFailure(c, e, 'analyzeModel threw');
    code = (e as PruneLensError).code;
  }
  try {
    // Unchanged: the very same bytes. Fully re-encoded: the same tree.
    const out = concatChunks(serializeModel(model));
    if (!Buffer.from(out).equals(Buffer.from(c.bytes))) throw new Error('an unchanged model was not written back byte for byte');
    const copy = parseModel(c.bytes, file);
    stripRaw(copy.proto);
    const again = parseModel(concatChunks(serializeModel(copy)), file);
    const diff = treeDiff(model.proto, again.proto);
    if (diff) throw new Error(`a full re-encode changed ${diff}`);
  } catch (e) {
    throw new FuzzFailure(c, e, 'round trip failed');
  }
  return done({ stage: 'parsed', code, analyzed: code === undefined });
}

export interface FuzzStats {
  cases: number;
  parsed: number;
  analyzed: number;
  rejected: number;
  codes: Record<string, number>;
  slowestMs: number;
  peakRssGrowth: number;
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Stop early after this many seconds. */
  seconds?: number;
  /** A single case taking longer than this counts as a hang. */
  caseBudgetMs?: number;
  /** Resident memory may not grow by more than this over the run. */
  rssBudget?: number;
  /** Where the external-data side file lives and the cases are "loaded" from. */
  dir: string;
  first?: number;
  /** Only these mutations (see MUTATION_KINDS), and no random bytes. */
  kinds?: string[];
  onProgress?: (s: FuzzStats) => void;
}

/** Runs cases first..first+cases-1; throws the first FuzzFailure. */
export function fuzz(opts: FuzzOptions): FuzzStats {
  const seeds = loadSeeds();
  fs.writeFileSync(path.join(opts.dir, 'w.bin'), EXTERNAL_BYTES);
  const file = path.join(opts.dir, 'case.onnx');
  const caseBudget = opts.caseBudgetMs ?? 2000;
  const rssBudget = opts.rssBudget ?? 1024 * 2 ** 20;
  const stats: FuzzStats = { cases: 0, parsed: 0, analyzed: 0, rejected: 0, codes: {}, slowestMs: 0, peakRssGrowth: 0 };
  const baseline = process.memoryUsage().rss;
  const deadline = opts.seconds ? Date.now() + opts.seconds * 1000 : Infinity;
  const first = opts.first ?? 0;
  for (let i = first; i < first + opts.cases && Date.now() < deadline; i++) {
    const c = makeCase(opts.seed, i, seeds, opts.kinds);
    const o = runCase(c, file);
    stats.cases++;
    if (o.stage === 'parsed') stats.parsed++;
    else stats.rejected++;
    if (o.analyzed) stats.analyzed++;
    if (o.code) stats.codes[o.code] = (stats.codes[o.code] ?? 0) + 1;
    stats.slowestMs = Math.max(stats.slowestMs, o.ms);
    if (o.ms > caseBudget) throw new FuzzFailure(c, new Error(`took ${o.ms.toFixed(0)} ms`), 'hang');
    if (i % 64 === 0) {
      const growth = process.memoryUsage().rss - baseline;
      stats.peakRssGrowth = Math.max(stats.peakRssGrowth, growth);
      if (growth > rssBudget) throw new FuzzFailure(c, new Error(`rss grew by ${growth >> 20} MiB`), 'memory');
      opts.onProgress?.(stats);
    }
  }
  return stats;
}

export function formatStats(s: FuzzStats): string {
  const codes = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return `fuzz: ${s.cases} cases, ${s.parsed} parsed (${s.analyzed} analysed), ${s.rejected} rejected at parse; ` +
    `errors by code: ${codes}; slowest case ${s.slowestMs.toFixed(1)} ms, rss +${Math.max(0, s.peakRssGrowth) >> 20} MiB`;
}
