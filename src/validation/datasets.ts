// Where validation samples come from, turned into batches that fit the model:
// an .npy file, an .npz archive, a folder of .npy files, or seeded random
// inputs that follow the model's input shapes. Every source is read in order,
// one batch at a time.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from '../onnx/errors';
import { ArraySource, RowReader, asOneRow, concatArrays, offsetArray } from './arrays';
import { DTYPE_BYTES, NpyDtype } from './npy';
import { floatToHalf, halfToFloat } from '../onnx/tensor';
import { readNpz } from './npz';
import { mulberry32 } from '../pruning/unstructured/random';

/** A model input as the session reports it; symbolic dimensions are strings. */
export interface ModelInput {
  name: string;
  type: string;
  shape: (number | string)[];
}

export interface DataSpec {
  /** An .npy file, an .npz file or a folder of .npy files; generated inputs when absent. */
  data?: string;
  /** An .npy of integer class labels, one per sample (or, where the reader allows it, one per position: [N, T]). */
  labels?: string;
  /** Use at most this many samples (generated data: exactly this many). */
  samples?: number;
  seed?: number;
  /** Sizes for symbolic dimensions other than the batch axis, for generated inputs. */
  dims?: Record<string, number>;
  batchSize: number;
}

export interface InputBatch { type: NpyDtype; dims: number[]; data: Buffer }

export interface Batch {
  rows: number;
  inputs: Record<string, InputBatch>;
  /** rows × labelsPerSample class indices. */
  labels?: Int32Array;
}

export interface BatchReader {
  next(): Promise<Batch | undefined>;
  close(): void;
}

export interface Dataset {
  /** For the report: a path, or "generated (seed N)". */
  description: string;
  samples: number;
  batchSize: number;
  hasLabels: boolean;
  /** Labels per sample: 1, or T for targets per position ([N, T], a language model's next tokens). */
  labelsPerSample: number;
  warnings: string[];
  open(): BatchReader;
}

export interface DatasetOptions {
  /** Accept labels of shape [N, T], one class per position (a language model's targets). */
  sequenceLabels?: boolean;
}

export const DEFAULT_GENERATED_SAMPLES = 256;
const LABEL_NAMES = ['labels', 'label', 'y'];

export function openDataset(spec: DataSpec, inputs: ModelInput[], options: DatasetOptions = {}): Dataset {
  const warnings: string[] = [];
  const { batchSize, fixed } = fitBatchSize(spec.batchSize, inputs, warnings);
  if (!spec.data) {
    if (spec.labels) throw new PruneLensError('validation', 'labels were given without data; give --data too');
    return generatedDataset(inputs, spec, batchSize, fixed, warnings);
  }
  const { arrays, labels: bundledLabels } = arraysOf(spec.data, inputs);
  const labels = spec.labels ? labelArray(spec.labels) : bundledLabels;
  const labelsPerSample = labels ? labelWidth(labels, options.sequenceLabels === true) : 1;
  const assigned = assignArrays(inputs, arrays, spec.data);
  const available = Math.min(...[...assigned.values(), ...(labels ? [labels] : [])].map((a) => a.shape[0]));
  for (const a of [...assigned.values(), ...(labels ? [labels] : [])]) {
    if (a.shape[0] !== available) {
      throw new PruneLensError('validation', `${a.label} has ${a.shape[0]} samples but the other arrays have ${available}; they must match`);
    }
  }
  const samples = wholeBatches(Math.min(available, spec.samples ?? Infinity), batchSize, fixed, warnings);
  return {
    description: spec.data,
    samples,
    batchSize,
    hasLabels: !!labels,
    labelsPerSample,
    warnings,
    open: () => arrayBatches(inputs, assigned, labels, samples, batchSize),
  };
}

/** A fixed batch dimension in the model overrides the requested batch size. */
function fitBatchSize(requested: number, inputs: ModelInput[], warnings: string[]): { batchSize: number; fixed: boolean } {
  if (!Number.isInteger(requested) || requested < 1) throw new PruneLensError('validation', `batch size must be a positive integer, not ${requested}`);
  const fixed = inputs.map((i) => i.shape[0]).find((d): d is number => typeof d === 'number' && d > 0);
  if (fixed !== undefined && fixed !== requested) {
    warnings.push(`the model's batch dimension is fixed at ${fixed}; using batches of ${fixed} instead of ${requested}`);
  }
  return { batchSize: fixed ?? requested, fixed: fixed !== undefined };
}

/** With a fixed batch dimension, a last partial batch cannot run: drop it. */
function wholeBatches(samples: number, batchSize: number, fixed: boolean, warnings: string[]): number {
  if (!fixed || samples % batchSize === 0) return samples;
  const kept = samples - (samples % batchSize);
  if (kept === 0) throw new PruneLensError('validation', `the model needs batches of exactly ${batchSize} samples; only ${samples} were given`);
  warnings.push(`using ${kept} of ${samples} samples, a whole number of batches of ${batchSize}`);
  return kept;
}

function arraysOf(data: string, inputs: ModelInput[]): { arrays: Map<string, ArraySource>; labels?: ArraySource } {
  let stat: fs.Stats;
  try { stat = fs.statSync(data); } catch { throw new PruneLensError('io', 'data file not found', {}, data); }
  let arrays: Map<string, ArraySource>;
  if (stat.isDirectory()) arrays = folderArrays(data, inputs);
  else if (data.endsWith('.npz')) arrays = readNpz(data);
  else if (data.endsWith('.npy')) arrays = new Map([[path.basename(data, '.npy'), offsetArray(data, data)]]);
  else throw new PruneLensError('validation', 'data must be an .npy file, an .npz file or a folder of .npy files', {}, data);
  const labelName = LABEL_NAMES.find((n) => arrays.has(n) && !inputs.some((i) => i.name === n));
  const labels = labelName ? arrays.get(labelName) : undefined;
  if (labelName) arrays.delete(labelName);
  return { arrays, labels };
}

/**
 * A folder holds either one file per model input (`input.npy`, like an
 * unpacked .npz), or, for a one-input model, samples or shards of samples
 * read in name order (`0001.npy`, `0002.npy`, ...). `labels.npy` is the labels.
 */
function folderArrays(folder: string, inputs: ModelInput[]): Map<string, ArraySource> {
  const files = fs.readdirSync(folder).filter((f) => f.endsWith('.npy'))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const named = new Map(files.map((f) => [path.basename(f, '.npy'), path.join(folder, f)]));
  const arrays = new Map<string, ArraySource>();
  for (const n of LABEL_NAMES) if (named.has(n)) arrays.set(n, offsetArray(named.get(n)!, named.get(n)!));
  if (inputs.every((i) => named.has(i.name))) {
    for (const i of inputs) arrays.set(i.name, offsetArray(named.get(i.name)!, named.get(i.name)!));
    return arrays;
  }
  if (inputs.length !== 1) {
    throw new PruneLensError('validation', `the model has inputs ${inputs.map((i) => i.name).join(', ')}; the folder needs one .npy file named after each`, {}, folder);
  }
  const rank = inputs[0].shape.length;
  const parts = files.filter((f) => !LABEL_NAMES.includes(path.basename(f, '.npy'))).map((f) => {
    const file = path.join(folder, f);
    const array = offsetArray(file, file);
    return array.shape.length === rank - 1 ? asOneRow(array) : array;
  });
  if (parts.length === 0) throw new PruneLensError('validation', 'the folder holds no .npy files', {}, folder);
  for (const p of parts) {
    if (p.dtype !== parts[0].dtype || p.shape.slice(1).join() !== parts[0].shape.slice(1).join()) {
      throw new PruneLensError('validation', `shape [${p.shape.slice(1)}] (${p.dtype}) differs from the first file's [${parts[0].shape.slice(1)}] (${parts[0].dtype})`, {}, p.label);
    }
  }
  arrays.set(inputs[0].name, concatArrays(folder, parts));
  return arrays;
}

function labelArray(file: string): ArraySource {
  if (!fs.existsSync(file)) throw new PruneLensError('io', 'labels file not found', {}, file);
  if (!file.endsWith('.npy')) throw new PruneLensError('validation', 'labels must be an .npy file', {}, file);
  return offsetArray(file, file);
}

function assignArrays(inputs: ModelInput[], arrays: Map<string, ArraySource>, where: string): Map<string, ArraySource> {
  const assigned = new Map<string, ArraySource>();
  if (inputs.every((i) => arrays.has(i.name))) {
    for (const i of inputs) assigned.set(i.name, arrays.get(i.name)!);
  } else if (inputs.length === 1 && arrays.size === 1) {
    assigned.set(inputs[0].name, [...arrays.values()][0]);
  } else {
    throw new PruneLensError('validation',
      `the model's inputs are ${inputs.map((i) => `'${i.name}'`).join(', ')} but the data holds ${[...arrays.keys()].map((n) => `'${n}'`).join(', ') || 'no arrays'}; name the arrays after the inputs`, {}, where);
  }
  for (const input of inputs) checkFits(input, assigned.get(input.name)!);
  return assigned;
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws a clear error when an array cannot feed `input`: rank, fixed dimensions, element type. */
function checkFits(input: ModelInput, array: ArraySource): void {
  const expected = input.shape;
  const mismatch = array.shape.length !== expected.length ||
    expected.some((d, k) => k > 0 && typeof d === 'number' && d >= 0 && d !== array.shape[k]);
  const typeOk = array.dtype === input.type || (isFloat(array.dtype) && isFloat(input.type));
  if (mismatch || !typeOk) {
    throw new PruneLensError('validation',
      `input '${input.name}' expects shape ${shapeText(expected)} of ${input.type}, but the data has shape ${shapeText(array.shape)} of ${array.dtype}`, {}, array.label);
  }
}

function arrayBatches(inputs: ModelInput[], arrays: Map<string, ArraySource>, labels: ArraySource | undefined, samples: number, batchSize: number): BatchReader {
  const readers = new Map<string, RowReader>([...arrays].map(([name, a]) => [name, a.open()]));
  const labelReader = labels?.open();
  let done = 0;
  return {
    async next() {
      const rows = Math.min(batchSize, samples - done);
      if (rows <= 0) return undefined;
      const batch: Batch = { rows, inputs: {} };
      for (const input of inputs) {
        const array = arrays.get(input.name)!;
        let data = await readers.get(input.name)!.read(rows);
        let type = array.dtype;
        // NumPy's default float64 is common in saved data; the model may want float32 or float16.
        if (type !== input.type && isFloat(type) && isFloat(input.type)) { data = convertFloats(data, type, input.type as NpyDtype); type = input.type as NpyDtype; }
        batch.inputs[input.name] = { type, dims: [rows, ...array.shape.slice(1)], data };
      }
      if (labels && labelReader) batch.labels = toLabels(await labelReader.read(rows), labels);
      done += rows;
      return batch;
    },
    close() {
      for (const r of readers.values()) r.close();
      labelReader?.close();
    },
  };
}

const FLOATS = new Set(['float16', 'float32', 'float64']);
function isFloat(type: string): boolean {
  return FLOATS.has(type);
}

/** Floats of one width as another (float16 as its bit pattern). */
function convertFloats(bytes: Buffer, from: NpyDtype, to: NpyDtype): Buffer {
  const src = typedView(bytes, from) as Float32Array | Float64Array | Uint16Array;
  const n = src.length;
  const read = from === 'float16' ? (i: number) => halfToFloat(src[i]) : (i: number) => src[i];
  const out = to === 'float16' ? new Uint16Array(n) : to === 'float32' ? new Float32Array(n) : new Float64Array(n);
  if (to === 'float16') for (let i = 0; i < n; i++) out[i] = floatToHalf(read(i));
  else for (let i = 0; i < n; i++) out[i] = read(i);
  return Buffer.from(out.buffer);
}

/** A typed array over `bytes` (copied when the Buffer's offset is not aligned to the element size). */
export function typedView(bytes: Buffer, dtype: NpyDtype): ArrayBufferView & ArrayLike<number | bigint> {
  const size = DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % size === 0 ? bytes : Buffer.from(bytes);
  const buffer = aligned.buffer;
  const offset = aligned.byteOffset;
  const n = aligned.length / size;
  switch (dtype) {
    // float16 as its bit pattern, which is what onnxruntime's float16 tensors hold.
    case 'float16': return new Uint16Array(buffer, offset, n);
    case 'float32': return new Float32Array(buffer, offset, n);
    case 'float64': return new Float64Array(buffer, offset, n);
    case 'int8': return new Int8Array(buffer, offset, n);
    case 'uint8': return new Uint8Array(buffer, offset, n);
    case 'bool': return new Uint8Array(buffer, offset, n);
    case 'int16': return new Int16Array(buffer, offset, n);
    case 'uint16': return new Uint16Array(buffer, offset, n);
    case 'int32': return new Int32Array(buffer, offset, n);
    case 'uint32': return new Uint32Array(buffer, offset, n);
    case 'int64': return new BigInt64Array(buffer, offset, n);
    case 'uint64': return new BigUint64Array(buffer, offset, n);
  }
}

/** Class indices per sample: one ([N] or [N, 1]), or with `sequence`, T of them ([N, T]). */
function labelWidth(labels: ArraySource, sequence: boolean): number {
  const { shape } = labels;
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) return 1;
  if (sequence && shape.length === 2) return shape[1];
  throw new PruneLensError('validation', `labels must be one class index per sample (shape [N] or [N, 1])${sequence ? ', or one per position (shape [N, T])' : ''}, not ${shapeText(shape)}`, {}, labels.label);
}

function toLabels(bytes: Buffer, labels: ArraySource): Int32Array {
  const view = typedView(bytes, labels.dtype);
  const out = new Int32Array(view.length);
  for (let i = 0; i < view.length; i++) {
    const v = Number(view[i]);
    if (!Number.isInteger(v)) throw new PruneLensError('validation', `label ${v} is not a class index`, {}, labels.label);
    out[i] = v;
  }
  return out;
}

/** The same seed gives the same generated inputs everywhere (the pruning core's mulberry32). */
export const seededRandom = mulberry32;

function generatedDataset(inputs: ModelInput[], spec: DataSpec, batchSize: number, fixed: boolean, warnings: string[]): Dataset {
  const seed = spec.seed ?? 0;
  const samples = wholeBatches(spec.samples ?? DEFAULT_GENERATED_SAMPLES, batchSize, fixed, warnings);
  const perSample = inputs.map((input) => ({ input, dims: input.shape.slice(1).map((d, k) => resolveDim(input, d, k + 1, spec.dims ?? {})) }));
  for (const { input } of perSample) {
    if (!(input.type in DTYPE_BYTES)) throw new PruneLensError('validation', `input '${input.name}' has type ${input.type}, which cannot be generated; give --data`);
  }
  return {
    description: `generated (seed ${seed})`,
    samples,
    batchSize,
    hasLabels: false,
    labelsPerSample: 1,
    warnings,
    open() {
      const random = seededRandom(seed);
      let done = 0;
      return {
        async next() {
          const rows = Math.min(batchSize, samples - done);
          if (rows <= 0) return undefined;
          const batch: Batch = { rows, inputs: {} };
          for (const { input, dims } of perSample) {
            const type = input.type as NpyDtype;
            const count = rows * dims.reduce((a, b) => a * b, 1);
            batch.inputs[input.name] = { type, dims: [rows, ...dims], data: randomValues(type, count, random) };
          }
          done += rows;
          return batch;
        },
        close() { /* nothing held */ },
      };
    },
  };
}

function resolveDim(input: ModelInput, dim: number | string, axis: number, dims: Record<string, number>): number {
  if (typeof dim === 'number' && dim > 0) return dim;
  // By the dimension's name, or by input and axis (what a UI asks for a dimension without one).
  const given = (typeof dim === 'string' && dim ? dims[dim] : undefined) ?? dims[`${input.name}:${axis}`];
  if (given !== undefined && Number.isInteger(given) && given > 0) return given;
  const name = typeof dim === 'string' && dim ? `'${dim}'` : `(unnamed)`;
  throw new PruneLensError('validation',
    `input '${input.name}' has symbolic dimension ${name} on axis ${axis} (shape ${shapeText(input.shape)}); give its size (--dim ${typeof dim === 'string' && dim ? dim : 'NAME'}=SIZE) or give --data`);
}

/** Standard-normal floats (Box-Muller), small non-negative integers, or booleans. */
function randomValues(type: NpyDtype, count: number, random: () => number): Buffer {
  const bytes = Buffer.alloc(count * DTYPE_BYTES[type]);
  const view = typedView(bytes, type);
  for (let i = 0; i < count; i++) {
    if (type === 'float32' || type === 'float64' || type === 'float16') {
      const v = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      (view as Float32Array)[i] = type === 'float16' ? floatToHalf(v) : v;
    } else if (type === 'int64' || type === 'uint64') {
      (view as BigInt64Array)[i] = BigInt(Math.floor(random() * 10));
    } else {
      (view as Int32Array)[i] = type === 'bool' ? (random() < 0.5 ? 0 : 1) : Math.floor(random() * 10);
    }
  }
  return bytes;
}
