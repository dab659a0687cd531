// Fuzzing the other files a user hands the tool: plan files (JSON) through the
// plan reader and the plan runner, .npy/.npz data through the mask reader and
// the dataset reader, and external-data references of a model through the
// whole pipeline. Shared by test/unit/onnx/fuzz.test.ts and scripts/fuzz.ts.
// The only acceptable failure is a PruneLensError that is not 'internal' and
// names the file; a case that takes too long is a hang.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../src/analysis';
import { decodeMessage, encodeMessage } from '../../src/onnx/codec';
import { PruneLensError, withFile } from '../../src/onnx/errors';
import { parseModel, serializeModel, type OnnxModel } from '../../src/onnx/model';
import type { ModelProto, TensorProto } from '../../src/onnx/schema';
import { concatChunks } from '../../src/onnx/wire';
import { parsePlanText, runPlan } from '../../src/pruning/plan';
import { readNpyFloats } from '../../src/pruning/plan/npy';
import { pruneStructured } from '../../src/pruning/structured';
import { openDataset, type ModelInput } from '../../src/validation/datasets';
import { encodeNpy } from '../../src/validation/npy';
import { EXTERNAL_BYTES, syntheticModelBytes, type Rand } from './fuzz';
import { modelPath, ROOT, seededRandom } from './models';

export type FileTarget = 'plans' | 'data' | 'external';
export const FILE_TARGETS: readonly FileTarget[] = ['plans', 'data', 'external'];

export interface FileCase {
  target: FileTarget;
  seed: number;
  index: number;
  kind: string;
  /** The file's bytes (plan text, .npy/.npz bytes, or the model with mutated external references). */
  bytes: Uint8Array;
  /** For external cases: the location the reference names when it is read (an external tensor with elements), for the containment check. */
  location?: string;
}

export class FileFailure extends Error {
  constructor(readonly fuzzCase: FileCase, override readonly cause: unknown, readonly what: string) {
    super(`${what} on ${fuzzCase.target} seed ${fuzzCase.seed} case ${fuzzCase.index} (${fuzzCase.kind}, ${fuzzCase.bytes.length} bytes; ` +
      `replay: npx tsx scripts/fuzz.ts --target ${fuzzCase.target} --seed ${fuzzCase.seed} --first ${fuzzCase.index} --cases 1): ${
        cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
  }
}

const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, list: readonly T[]): T => list[int(rand, list.length)];

// ---- plans -----------------------------------------------------------------------

/** Plans that run on digits_lenet; the mutations start from these. */
const GOOD_PLANS: object[] = [
  { steps: [{ method: 'l1', amount: 0.3 }] },
  { output: '{name}.{plan}.onnx', steps: [{ method: 'l2', structured: true, scope: 'global', amount: 0.5, ignore: ['fc3'] }] },
  { steps: [{ method: 'random', seed: 3, structured: true, amount: 0.25, round_to: 2, max_ratio: 0.5, layers: ['conv*'] }] },
  { steps: [{ method: 'threshold', threshold: 0.05, granularity: 'filter' }, { method: 'nm', nm: '2:4', ops: ['Gemm'] }] },
  { steps: [{ method: 'custom', layers: ['conv1'], mask: 'mask.npy' }] },
  { steps: [{ method: 'custom', layers: ['conv1'], importance: 'importance.npy', count: 10 }] },
  { steps: [{ method: 'l1', granularity: 'channel', count: 2, bias: true, layers: ['fc1'] }] },
  { steps: [{ method: 'wanda', structured: true, amount: 0.2, calibration: { data: 'x.npy', size: 4 }, recovery: { method: 'least-squares' } }] },
];

const ODD_VALUES: unknown[] = [0, 1, -1, 0.5, 1.5, 0.999999, 1e308, -1e308, 2 ** 53, 3.5, '', '*', '**', 'conv1', 'fc3', '../mask.npy',
  '/etc/passwd', 'mask.npy', 'x'.repeat(5000), '2:4', '0:0', '4:2', 'global', 'local', true, false, null, [], [''], ['*'], {}, { data: '' },
  { method: 'none' }, { 'conv1': 'mask.npy' }, { data: 'x.npy', batch: 0 }];
const KEYS = ['method', 'structured', 'layers', 'ops', 'ignore', 'scope', 'amount', 'count', 'threshold', 'granularity', 'nm', 'seed',
  'bias', 'round_to', 'max_ratio', 'mask', 'importance', 'calibration', 'recovery', 'name', 'amout', 'steps', 'output', 'version'];

function mutatePlan(rand: Rand): { kind: string; text: string } {
  const plan = structuredClone(pick(rand, GOOD_PLANS)) as { steps: Record<string, unknown>[] } & Record<string, unknown>;
  const kinds: string[] = [];
  for (let n = 1 + int(rand, 3); n > 0; n--) {
    const steps = Array.isArray(plan.steps) ? plan.steps : [];
    const any = steps[int(rand, steps.length)];
    const step: Record<string, unknown> = any && typeof any === 'object' && !Array.isArray(any) ? any : {};
    const r = rand();
    if (r < 0.45) {
      kinds.push('value');
      step[pick(rand, KEYS)] = structuredClone(pick(rand, ODD_VALUES));
    } else if (r < 0.6) {
      kinds.push('delete');
      delete step[pick(rand, Object.keys(step).concat('method'))];
    } else if (r < 0.7) {
      kinds.push('plan-value');
      plan[pick(rand, ['output', 'version', 'steps', 'description'])] = structuredClone(pick(rand, ODD_VALUES));
    } else if (r < 0.8) {
      kinds.push('duplicate-step');
      if (Array.isArray(plan.steps)) plan.steps.push(structuredClone(step));
    } else {
      kinds.push('text');
      let text = JSON.stringify(plan, null, rand() < 0.5 ? 2 : undefined);
      const at = int(rand, text.length + 1);
      const t = rand();
      if (t < 0.3) text = text.slice(0, at);
      else if (t < 0.6) text = text.slice(0, at) + pick(rand, ['{', '}', ',', '"', ':', '//', '\u0000', '\ud800', '1e999', '-']) + text.slice(at);
      else text = text.slice(0, at) + text.slice(at + 1 + int(rand, 8));
      return { kind: kinds.join('+'), text };
    }
  }
  return { kind: kinds.join('+'), text: JSON.stringify(plan) };
}

// ---- .npy / .npz -------------------------------------------------------------------

function dataSeeds(): { name: string; bytes: Uint8Array }[] {
  const x = new Float32Array(6 * 64).map((_, i) => (i % 17) / 16);
  return [
    { name: 'x.npy', bytes: encodeNpy('float32', [6, 1, 8, 8], x) },
    { name: 'y.npy', bytes: encodeNpy('int64', [6], new BigInt64Array([0n, 1n, 2n, 3n, 4n, 5n])) },
    { name: 'stored.npz', bytes: fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'validation', 'digits_val_stored.npz')) },
    { name: 'deflated.npz', bytes: fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'validation', 'digits_val_deflated.npz')) },
  ];
}

/** Header edits that parse: absurd shapes, odd dtypes and orders. */
const NPY_HEADERS = ["(500000000, 1, 8, 8)", '(6, 1, 8, 500000000)', '(6, 1, 8, 8, 0)', '()', '(-1,)', '(6,)', '(0, 1, 8, 8)',
  '(9007199254740993, 1)', '(6, 1, 8, 9)', '(1e3,)'];

function mutateData(rand: Rand, seeds: { name: string; bytes: Uint8Array }[]): { kind: string; name: string; bytes: Uint8Array } {
  const s = pick(rand, seeds);
  const b = Buffer.from(s.bytes);
  const r = rand();
  if (r < 0.25 && s.name.endsWith('.npy')) {
    const text = b.toString('latin1');
    const edited = text.replace(/\(([^)]*)\)/, pick(rand, NPY_HEADERS))
      .replace(/'descr': '([^']*)'/, (m) => (rand() < 0.3 ? `'descr': '${pick(rand, ['<f2', '>f4', '|b1', '<c8', '<U4', 'O', '<f8', '<i8'])}'` : m))
      .replace(/'fortran_order': False/, (m) => (rand() < 0.2 ? "'fortran_order': True" : m));
    return { kind: 'header', name: s.name, bytes: Buffer.from(edited, 'latin1') };
  }
  if (r < 0.5) {
    for (let n = 1 + int(rand, 8); n > 0; n--) {
      // Mostly in the first bytes (the headers) and the last ones (a zip's central directory).
      const at = rand() < 0.4 ? int(rand, Math.min(b.length, 128)) : rand() < 0.5 ? b.length - 1 - int(rand, Math.min(b.length, 200)) : int(rand, b.length);
      b[at] = rand() < 0.5 ? pick(rand, [0, 0xff, 0x7f, 0x80, 0x29, 0x28, 0x2c]) : int(rand, 256);
    }
    return { kind: 'bytes', name: s.name, bytes: b };
  }
  if (r < 0.7) return { kind: 'truncate', name: s.name, bytes: b.subarray(0, int(rand, b.length)) };
  // A 32-bit little-endian field (zip sizes, offsets, the v2 header length) set to an odd value.
  const at = rand() < 0.5 ? int(rand, Math.min(b.length - 4, 64)) : Math.max(0, b.length - 4 - int(rand, Math.min(b.length - 4, 120)));
  b.writeUInt32LE(pick(rand, [0, 1, 0xffff, 0xffffffff, 0x7fffffff, b.length, b.length + 1, 500_000_000]) >>> 0, Math.max(0, at));
  return { kind: 'field', name: s.name, bytes: b };
}

// ---- external data -------------------------------------------------------------------

const LOCATIONS = ['w.bin', 'sub/../w.bin', './w.bin', '../w.bin', '../../etc/passwd', '/etc/passwd', 'missing.bin', '', 'w.bin\0.txt', '.',
  'sub', 'link.bin', 'C:\\w.bin', 'w.bin/', 'short.bin'];
const COUNTS = ['0', '4', '16', '31', '32', '33', '64', '-1', '1e3', 'abc', '', '99999999999', '9007199254740993', '0x10', ' 8'];

function mutateExternal(rand: Rand): { kind: string; bytes: Uint8Array; location?: string } {
  const proto = decodeMessage<ModelProto>('ModelProto', syntheticModelBytes());
  const t = proto.graph!.initializer.find((x) => x.name === 'ext_w') as TensorProto;
  const kinds: string[] = [];
  for (let n = 1 + int(rand, 3); n > 0; n--) {
    const r = rand();
    const entry = (key: string) => t.external_data.find((e) => e.key === key);
    if (r < 0.35) {
      kinds.push('location');
      const e = entry('location') ?? (t.external_data.push({ key: 'location', value: '' }), entry('location')!);
      e.value = pick(rand, LOCATIONS);
    } else if (r < 0.55) {
      kinds.push('offset');
      const e = entry('offset') ?? (t.external_data.push({ key: 'offset', value: '0' }), entry('offset')!);
      e.value = pick(rand, COUNTS);
    } else if (r < 0.75) {
      kinds.push('length');
      const e = entry('length') ?? (t.external_data.push({ key: 'length', value: '32' }), entry('length')!);
      e.value = pick(rand, COUNTS);
    } else if (r < 0.85) {
      kinds.push('drop-key');
      t.external_data.splice(int(rand, t.external_data.length + 1), 1);
    } else if (r < 0.92) {
      kinds.push('data-location');
      t.data_location = pick(rand, [0, 1, 2, 7]);
    } else {
      kinds.push('dims');
      t.dims = pick(rand, [[4, 2, 1, 1], [8, 2, 1, 1], [4, 2, 2, 1], [500_000_000, 2, 1, 1], [4, 2, 1, 0]]);
    }
  }
  // The location is read only when the tensor is external and has elements; otherwise it is never looked at.
  const read = t.data_location === 1 && t.dims.every((d) => Number(d) > 0);
  const location = read ? t.external_data.find((e) => e.key === 'location')?.value : undefined;
  return { kind: kinds.join('+'), bytes: concatChunks(encodeMessage('ModelProto', proto)), location };
}

// ---- running ------------------------------------------------------------------------

export function makeFileCase(target: FileTarget, seed: number, index: number, seeds = dataSeeds()): FileCase {
  const rand = seededRandom((Math.imul(seed, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1) ^ target.length) >>> 0);
  if (target === 'plans') {
    const { kind, text } = mutatePlan(rand);
    return { target, seed, index, kind, bytes: Buffer.from(text) };
  }
  if (target === 'data') {
    const { kind, name, bytes } = mutateData(rand, seeds);
    return { target, seed, index, kind: `${kind} of ${name}`, bytes };
  }
  const { kind, bytes, location } = mutateExternal(rand);
  return { target, seed, index, kind, bytes, location };
}

/** The folder every case of a target reads from: the side files plans and models name. */
export function prepareFolder(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'w.bin'), EXTERNAL_BYTES);
  fs.writeFileSync(path.join(dir, 'short.bin'), EXTERNAL_BYTES.subarray(0, 5));
  // A link inside the folder to a file outside it: following it would read outside.
  const outside = path.join(path.dirname(dir), `${path.basename(dir)}-outside.bin`);
  fs.writeFileSync(outside, EXTERNAL_BYTES);
  fs.rmSync(path.join(dir, 'link.bin'), { force: true });
  fs.symlinkSync(outside, path.join(dir, 'link.bin'));
  fs.writeFileSync(path.join(dir, 'mask.npy'), encodeNpy('float32', [6, 1, 3, 3], new Float32Array(54).map((_, i) => i % 2)));
  fs.writeFileSync(path.join(dir, 'importance.npy'), encodeNpy('float32', [6, 1, 3, 3], new Float32Array(54).map((_, i) => i)));
  fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy('float32', [4, 1, 8, 8], new Float32Array(256)));
}

/** A proper refusal: a PruneLensError that is not 'internal' and names a file (the case's, or one it points at, such as a mask). */
function acceptable(e: unknown): boolean {
  return e instanceof PruneLensError && e.code !== 'internal' && e.file !== undefined && e.message.startsWith(e.file + ': ');
}

const DIGITS_INPUT: ModelInput[] = [{ name: 'input', type: 'float32', shape: ['N', 1, 8, 8] }];
let lenet: Uint8Array | undefined;

/** Runs one case; returns the error code of a proper refusal, or 'ok'. */
export async function runFileCase(c: FileCase, dir: string): Promise<string> {
  const refused = (e: unknown, file: string, stage: string): string => {
    const err = e instanceof PruneLensError ? withFile(e, file) : e;
    if (!acceptable(err)) throw new FileFailure(c, e, `${stage} threw`);
    return (err as PruneLensError).code;
  };
  if (c.target === 'plans') {
    const file = path.join(dir, 'case.prune.json');
    let plan;
    try {
      plan = parsePlanText(Buffer.from(c.bytes).toString('utf8'), file);
    } catch (e) {
      return refused(e, file, 'parsePlanText');
    }
    lenet ??= new Uint8Array(fs.readFileSync(modelPath('digits_lenet.onnx')));
    const model: OnnxModel = parseModel(lenet, path.join(dir, 'digits_lenet.onnx'));
    try {
      await runPlan(model, plan, { baseDir: dir });
      concatChunks(serializeModel(model));
      return 'ok';
    } catch (e) {
      return refused(e, file, 'runPlan');
    }
  }
  if (c.target === 'data') {
    const name = c.kind.endsWith('.npz') ? 'case.npz' : 'case.npy';
    const file = path.join(dir, name);
    fs.writeFileSync(file, c.bytes);
    let code = 'ok';
    if (name.endsWith('.npy')) {
      try {
        readNpyFloats(file);
      } catch (e) {
        code = refused(e, file, 'readNpyFloats');
      }
    }
    try {
      const reader = openDataset({ data: file, batchSize: 4, samples: 12 }, DIGITS_INPUT).open();
      try {
        for (let b = await reader.next(), n = 0; b && n < 8; b = await reader.next(), n++) { /* read it all */ }
      } finally {
        reader.close();
      }
    } catch (e) {
      // Dataset errors name the array (`case.npz:input`), which starts with the file.
      const err = e instanceof PruneLensError ? withFile(e, file) : e;
      if (!(err instanceof PruneLensError && err.code !== 'internal' && err.message.startsWith(file))) throw new FileFailure(c, e, 'openDataset threw');
      code = err.code;
    }
    return code;
  }
  const file = path.join(dir, 'case.onnx');
  const escapes = c.location !== undefined && ['../w.bin', '../../etc/passwd', '/etc/passwd', 'link.bin', 'C:\\w.bin'].includes(c.location);
  try {
    const model = parseModel(c.bytes, file);
    analyzeModel(model);
    if (escapes) throw new FileFailure(c, new Error(`location ${c.location} was read`), 'external data outside the model folder was read');
    pruneStructured(model, { ratio: 0.5 });
    analyzeModel(parseModel(concatChunks(serializeModel(model)), file));
    return 'ok';
  } catch (e) {
    if (e instanceof FileFailure) throw e;
    return refused(e, file, 'the pipeline');
  }
}

export interface FileStats {
  target: FileTarget;
  cases: number;
  codes: Record<string, number>;
  slowestMs: number;
  failures: Record<string, number>;
}

export async function fuzzFiles(opts: {
  target: FileTarget; seed: number; cases: number; first?: number; dir: string; caseBudgetMs?: number; seconds?: number;
  onFailure?: (f: FileFailure) => void;
}): Promise<FileStats> {
  prepareFolder(opts.dir);
  const seeds = dataSeeds();
  const stats: FileStats = { target: opts.target, cases: 0, codes: {}, slowestMs: 0, failures: {} };
  const first = opts.first ?? 0;
  const deadline = opts.seconds ? Date.now() + opts.seconds * 1000 : Infinity;
  for (let i = first; i < first + opts.cases && Date.now() < deadline; i++) {
    const c = makeFileCase(opts.target, opts.seed, i, seeds);
    const t0 = performance.now();
    stats.cases++;
    try {
      const code = await runFileCase(c, opts.dir);
      const ms = performance.now() - t0;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      if (ms > (opts.caseBudgetMs ?? 3000)) throw new FileFailure(c, new Error(`took ${ms.toFixed(0)} ms`), 'hang');
      stats.codes[code] = (stats.codes[code] ?? 0) + 1;
    } catch (e) {
      if (!(e instanceof FileFailure) || !opts.onFailure) throw e;
      stats.failures[e.what] = (stats.failures[e.what] ?? 0) + 1;
      opts.onFailure(e);
    }
  }
  return stats;
}

export function formatFileStats(s: FileStats): string {
  const list = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${s.target} fuzz: ${s.cases} cases; outcomes: ${list(s.codes)}; slowest case ${s.slowestMs.toFixed(0)} ms` +
    (Object.keys(s.failures).length ? `; FAILURES: ${list(s.failures)}` : '; no failures');
}
