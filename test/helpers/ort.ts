// Runs a model held in memory through onnxruntime-node (CPU), for checks that
// rewritten models compute exactly what the originals do.

import * as ort from 'onnxruntime-node';

/** Float inputs, or int64 token ids for the language models. */
export type Feeds = Record<string, { dims: number[]; data: Float32Array | BigInt64Array }>;

/** Every output of one run, as float32 values (the models here output float32). */
export async function runModel(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, Float32Array>> {
  // One thread: the suite shares two cores, and bit-identical comparisons need no speed.
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = f.data instanceof BigInt64Array ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
    }
    const result = await session.run(inputs);
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(result)) out[name] = t.data as Float32Array;
    return out;
  } finally {
    await session.release();
  }
}

/** Index of the first element whose bits differ, or -1. NaN payloads count as bits. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** The dims of every output of one run (for shape checks). */
export async function runShapes(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = f.data instanceof BigInt64Array ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
    }
    const result = await session.run(inputs);
    return Object.fromEntries(Object.entries(result).map(([k, t]) => [k, t.dims.map(Number)]));
  } finally {
    await session.release();
  }
}

/** runModel for a model file, so that onnxruntime reads its external data from beside it. */
export async function runModelFile(file: string, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = f.data instanceof BigInt64Array ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
    }
    const result = await session.run(inputs);
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(result)) out[name] = t.data as Float32Array;
    return out;
  } finally {
    await session.release();
  }
}
