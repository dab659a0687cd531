// Runs a model held in memory through onnxruntime-node (CPU), for checks that
// rewritten models compute exactly what the originals do.

import * as ort from 'onnxruntime-node';

/** Float inputs, or int64 token ids for the language models. */
export type Feeds = Record<string, { dims: number[]; data: Float32Array | BigInt64Array }>;

/**
 * One run on the CPU with one thread (the suite shares two cores, and
 * bit-identical comparisons need no speed). A file path lets onnxruntime read
 * external data from beside it; `quiet` keeps its warnings off the test log.
 */
async function runOnce(model: Uint8Array | string, feeds: Feeds, quiet = false): Promise<ort.InferenceSession.OnnxValueMapType> {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, ...(quiet ? { logSeverityLevel: 3 as const } : {}) };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = f.data instanceof BigInt64Array ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
    }
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

const floatOutputs = (result: ort.InferenceSession.OnnxValueMapType): Record<string, Float32Array> =>
  Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.data as Float32Array]));

/** Every output of one run, as float32 values (the models here output float32). */
export async function runModel(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, Float32Array>> {
  return floatOutputs(await runOnce(bytes, feeds));
}

/** runModel for a model file, so that onnxruntime reads its external data from beside it. */
export async function runModelFile(file: string, feeds: Feeds): Promise<Record<string, Float32Array>> {
  return floatOutputs(await runOnce(file, feeds));
}

/** The dims of every output of one run (for shape checks). */
export async function runShapes(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, number[]>> {
  const result = await runOnce(bytes, feeds, true);
  return Object.fromEntries(Object.entries(result).map(([k, t]) => [k, t.dims.map(Number)]));
}

/** Index of the first element whose bits differ, or -1. NaN payloads count as bits. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
