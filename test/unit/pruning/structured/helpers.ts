// Test helpers for structured pruning: running models in onnxruntime-node,
// reading the held-out digits, and comparing outputs.

import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { concatChunks } from '../../../../src/onnx/wire';
import { OnnxModel, parseModel, serializeModel } from '../../../../src/onnx/model';
import { readNpyHeader } from '../../../../src/validation/npy';
import { modelPath } from '../../../helpers/models';


export function bytesOf(m: OnnxModel): Uint8Array {
  return concatChunks(serializeModel(m));
}

/** Round-trips through the project's writer and reader, as saving and loading would. */
export function reparse(m: OnnxModel): OnnxModel {
  return parseModel(bytesOf(m));
}

export interface Feed {
  name: string;
  data: Float32Array;
  dims: number[];
}

/** Runs the model and returns each output's values, by output name. */
export async function run(bytes: Uint8Array, feeds: Feed[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const f of feeds) input[f.name] = new ort.Tensor('float32', f.data, f.dims);
    const out = await session.run(input);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`outputs differ in size: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function readNpyFloats(file: string): { data: Float32Array; dims: number[] } {
  const h = readNpyHeader(file);
  if (h.dtype !== 'float32') throw new Error(`${file}: expected float32, got ${h.dtype}`);
  const buf = fs.readFileSync(file).subarray(h.dataOffset);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { data, dims: h.shape };
}

export function readNpyLabels(file: string): number[] {
  const h = readNpyHeader(file);
  const buf = fs.readFileSync(file).subarray(h.dataOffset);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return Array.from({ length: h.rows }, (_, i) => Number(view.getBigInt64(i * 8, true)));
}

export function digitsVal(): Feed {
  const { data, dims } = readNpyFloats(modelPath('digits_val_x.npy'));
  return { name: 'input', data, dims };
}

/** Deterministic pseudo-random inputs in [-1, 1). */
export function randomFeed(name: string, dims: number[], seed = 1): Feed {
  let s = seed >>> 0;
  const n = dims.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { name, data, dims };
}

export function accuracy(logits: Float32Array, labels: number[], classes: number): number {
  let ok = 0;
  labels.forEach((y, i) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    if (best === y) ok++;
  });
  return ok / labels.length;
}
